// Page behaviour the manual describes (2.0 and the password notes of 5.2.6 and others):
// - nothing is stored until Save; leaving a page with unsaved edits asks first;
// - a password field changes only when the operator presses Enter or Tab in it
//   (Enter on an empty field sets a blank password); an untouched field stays as it was.
// Without JavaScript the "change" checkbox beside each password field does the same.
"use strict";

(function () {
  function setupSecret(box, markDirty) {
    var input = box.querySelector("[data-secret-input]");
    var checkbox = box.querySelector("[data-secret-flag]");
    var state = box.querySelector("[data-secret-state]");
    // Replace the no-script checkbox by a hidden flag driven by Enter/Tab.
    var flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = checkbox.name;
    flag.value = "0";
    flag.setAttribute("data-secret-flag", "");
    checkbox.closest("label").replaceWith(flag);
    box.classList.remove("confirmed");

    function confirm() {
      flag.value = "1";
      box.classList.add("confirmed");
      box.classList.remove("unconfirmed");
      state.textContent = input.value === "" ? "Will be set blank on Save" : "Will change on Save";
      markDirty();
    }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault(); // Enter confirms the password; it does not submit the page
        confirm();
      } else if (event.key === "Tab" && input.value !== "") {
        confirm();
      }
    });
    var initialState = state.textContent;
    input.addEventListener("input", function () {
      // Editing a confirmed password needs a new Enter/Tab: Save stores only what was confirmed,
      // and a field cleared again is untouched (keeps the stored password).
      flag.value = "0";
      box.classList.remove("confirmed");
      box.classList.remove("unconfirmed");
      state.textContent = input.value === "" ? initialState : "Press Enter or Tab to confirm";
    });
    return {
      unconfirmed: function () { return flag.value !== "1" && input.value !== ""; },
      box: box,
      input: input,
    };
  }

  function setupForm(form) {
    // A page shown again after a refused save holds the operator's values, not the stored ones.
    var dirty = form.hasAttribute("data-unsaved");
    var submitting = false;
    function markDirty() { dirty = true; }
    var secrets = Array.prototype.map.call(
      form.querySelectorAll("[data-secret]"), function (box) { return setupSecret(box, markDirty); });
    form.addEventListener("input", markDirty);
    form.addEventListener("change", markDirty);
    form.addEventListener("submit", function (event) {
      var pending = secrets.filter(function (s) { return s.unconfirmed(); });
      if (pending.length) {
        event.preventDefault();
        pending.forEach(function (s) {
          s.box.classList.add("unconfirmed");
          s.box.querySelector("[data-secret-state]").textContent =
            "Press Enter or Tab to confirm this password, or clear the field";
        });
        pending[0].input.focus();
        return;
      }
      submitting = true;
    });
    window.addEventListener("beforeunload", function (event) {
      if (dirty && !submitting) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-guard]").forEach(setupForm);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  });
})();

// Live progress of a job (commit, rebuild ...): follow the server-sent events.
document.addEventListener("DOMContentLoaded", function () {
  var pre = document.getElementById("progress");
  if (!pre || pre.getAttribute("data-status") !== "running" || !window.EventSource) { return; }
  var spans = pre.querySelectorAll("span[data-seq]");
  var last = spans.length ? spans[spans.length - 1].getAttribute("data-seq") : "0";
  var source = new EventSource(pre.getAttribute("data-stream") + "?after=" + last);
  var state = document.getElementById("job-state");
  source.addEventListener("progress", function (message) {
    var event = JSON.parse(message.data);
    if (pre.querySelector('span[data-seq="' + event.seq + '"]')) { return; }
    var span = document.createElement("span");
    span.className = "ev-" + event.level;
    span.setAttribute("data-seq", event.seq);
    span.textContent = event.line;
    pre.appendChild(span);
    pre.appendChild(document.createTextNode("\n"));
  });
  source.addEventListener("end", function (message) {
    var status = JSON.parse(message.data).status;
    source.close();
    pre.setAttribute("data-status", status);
    state.className = "job-state " + status;
    state.textContent = status === "succeeded" ? "Finished successfully." : "Failed.";
  });
});
