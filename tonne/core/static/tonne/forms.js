// Forms that answer well: after a refused submit, focus goes to the first
// field in error (or to the refusal itself); destructive buttons ask first.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var main = document.getElementById("main");
  if (!main) { return; }
  var controls = "input:not([type=hidden]), select, textarea";
  main.querySelectorAll(".has-error").forEach(function (field) {
    field.querySelectorAll(controls).forEach(function (control) { control.setAttribute("aria-invalid", "true"); });
  });
  var firstField = main.querySelector(".has-error");
  var refusal = main.querySelector(".refusal[data-field]") || main.querySelector("#refusal");
  var target = firstField ? firstField.querySelector(controls) : null;
  if (!target && refusal) {
    var name = refusal.getAttribute("data-field");
    var scope = refusal.closest("form, li, section") || main;
    var named = name ? scope.querySelector("[name='" + name.replace(/'/g, "") + "']") : null;
    if (named) {
      named.setAttribute("aria-invalid", "true");
      if (refusal.id) { named.setAttribute("aria-describedby", refusal.id); }
      target = named;
    } else {
      refusal.setAttribute("tabindex", "-1");
      target = refusal;
    }
  }
  if (target) {
    target.scrollIntoView({block: "center"});
    target.focus({preventScroll: true});
  }
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
});
