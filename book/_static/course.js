/* The course's additions to sphinx-book-theme (issue 28): every collapsed solution and cell
 * opens when the page is printed, and closes again afterwards. (sphinx-togglebutton opens
 * its dropdowns, the written solutions; this opens MyST-NB's collapsed cells, the code
 * solutions among them, which are <details class="hide"> elements.) */
(function () {
  "use strict";
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.hide:not([open])").forEach(function (el) {
      el.dataset.courseOpenedForPrint = "true";
      el.open = true;
    });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-course-opened-for-print]").forEach(function (el) {
      el.open = false;
      delete el.dataset.courseOpenedForPrint;
    });
  });
})();
