// Read-only probes of a JupyterLab page, for the browser tests (tests/browser/lab_driver.py).
// JupyterLab is started with exposeAppInBrowser, so window.jupyterapp is the application:
// these functions read its notebook models (outputs, execution counts, kernel status) and the
// rendered DOM (figures, widgets). Installed once per page as window.servelabProbe.
(() => {
  // Output nodes that are a widget's own controls: left out of a cell's output "signature", so
  // moving a slider changes the signature only when the cell's output (plot, text) changes.
  const CONTROLS = ".widget-inline-hbox, .widget-button, .widget-toggle-buttons, .widget-readout";
  // Elements a learner can turn: slider handles, selects, toggles, check boxes, buttons.
  const KNOBS = [
    ".widget-slider .noUi-handle",
    ".widget-dropdown select",
    ".widget-select-multiple select",
    ".widget-toggle-buttons button",
    ".widget-checkbox input",
    ".widget-radio-box input",
    ".widget-text input",
    "button.widget-button",
  ].join(", ");

  const app = () => window.jupyterapp;

  function panel(path) {
    for (const w of app().shell.widgets("main")) {
      if (w.context && w.context.path === path) return w;
    }
    return null;
  }

  function kernelStatus(path) {
    const p = panel(path);
    const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
    return k ? k.status : "none";
  }

  // Count the kernel's busy transitions, to know an interaction reached the kernel, and the
  // execute requests sent and not yet answered. The cell prompts cannot tell when Run All is
  // over: once a cell fails, JupyterLab clears the queued cells' [*] although the kernel still
  // runs them when the failed cell is tagged raises-exception.
  function watchKernel(path) {
    const p = panel(path);
    if (!p || p.__servelabWatched) return;
    p.__servelabWatched = true;
    p.__servelabBusy = 0;
    p.__servelabPending = 0;
    p.sessionContext.statusChanged.connect((_, status) => {
      if (status === "busy") p.__servelabBusy += 1;
    });
    const count = (_, { msg, direction }) => {
      const type = msg.header.msg_type;
      if (direction === "send" && type === "execute_request") p.__servelabPending += 1;
      if (direction === "recv" && type === "execute_reply") p.__servelabPending -= 1;
    };
    const watch = (kernel) => kernel && kernel.anyMessage.connect(count);
    watch(p.sessionContext.session && p.sessionContext.session.kernel);
    p.sessionContext.kernelChanged.connect((_, { newValue }) => {
      p.__servelabPending = 0;
      watch(newValue);
    });
  }

  function busyCount(path) {
    const p = panel(path);
    return p ? p.__servelabBusy || 0 : 0;
  }

  function pendingExecutions(path) {
    const p = panel(path);
    return p ? p.__servelabPending || 0 : 0;
  }

  function cells(path) {
    const p = panel(path);
    if (!p) return null;
    return p.content.widgets.map((cell, index) => {
      const m = cell.model;
      const out = {
        index,
        type: m.type,
        empty: !m.sharedModel.getSource().trim(),
        tags: m.getMetadata("tags") || [],
      };
      if (m.type === "code") {
        out.count = m.executionCount;
        out.state = m.executionState;
        out.outputs = m.outputs.toJSON().map((o) => ({
          type: o.output_type,
          mimes: o.data ? Object.keys(o.data) : [],
          ename: o.ename,
          evalue: o.evalue,
          traceback: o.traceback ? o.traceback.slice(-3).join("\n") : undefined,
        }));
      }
      return out;
    });
  }

  // Is an <img> a drawn figure: decoded, non-zero size, and more than one colour?
  function imageState(img) {
    if (!img.complete || !img.naturalWidth || !img.naturalHeight) {
      return { ok: false, why: "not decoded (natural size 0)" };
    }
    const w = Math.min(img.naturalWidth, 200);
    const h = Math.min(img.naturalHeight, 200);
    const canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0, w, h);
    const data = ctx.getImageData(0, 0, w, h).data;
    const colours = new Set();
    for (let i = 0; i < data.length && colours.size < 3; i += 4 * 7) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
    if (colours.size < 2) return { ok: false, why: "blank (one colour)" };
    return { ok: true, width: img.naturalWidth, height: img.naturalHeight };
  }

  function outputArea(path, index) {
    const cell = panel(path).content.widgets[index];
    return cell.outputArea ? cell.outputArea.node : null;
  }

  // What the DOM shows in a cell's outputs: figures, widget views, knobs, text signature.
  function cellView(path, index) {
    const node = outputArea(path, index);
    if (!node) return null;
    const figures = [...node.querySelectorAll("img")].map(imageState);
    const widgetOutputs = [...node.querySelectorAll(".jp-OutputArea-output")].filter(
      (o) => o.querySelector(".jupyter-widgets") || /widget/i.test(o.textContent.slice(0, 40))
    );
    // ipywidgets draws a view it cannot create as an error icon; the manager's own messages
    // say "Error displaying widget" or, while it waits, "Loading widget..."
    const widgetErrors = [...node.querySelectorAll(".jp-OutputArea-output")]
      .map((o) => o.textContent)
      .filter((t) => /Error displaying widget|Loading widget\.\.\./.test(t))
      .map((t) => t.slice(0, 200))
      .concat(
        [...node.querySelectorAll(".jupyter-widgets-error-widget")].map(
          (e) => `error view: ${(e.title || e.textContent || "").trim().slice(0, 200)}`
        )
      );
    const knobs = [...node.querySelectorAll(KNOBS)].length;
    const clone = node.cloneNode(true);
    clone.querySelectorAll(CONTROLS).forEach((e) => e.remove());
    const sources = [...clone.querySelectorAll("img")].map(
      (i) => `${i.src.length}:${i.src.slice(-64)}`
    );
    const text = clone.textContent;
    // a callback's exception, shown inside a widget's own output (errors of the cell itself
    // are in the notebook model, reported from there)
    const inWidgets = [...clone.querySelectorAll(".jupyter-widgets")].map((e) => e.textContent);
    const tracebacks = inWidgets.some((t) => /Traceback \(most recent call last\)/.test(t));
    // live work still running: a progress bar (a tqdm widget, or tqdm's text bar)
    const progress =
      !!node.querySelector(".widget-progress, progress") ||
      /\d+it \[|it\/s\]|s\/it\]/.test(text);
    return {
      figures,
      progress,
      widgetViews: widgetOutputs.length,
      widgetErrors,
      knobs,
      tracebacks,
      signature: `${text.length}|${text.slice(-400)}|${sources.join(",")}`,
    };
  }

  function knobSelector() {
    return KNOBS;
  }

  window.servelabProbe = {
    panel,
    kernelStatus,
    watchKernel,
    busyCount,
    pendingExecutions,
    cells,
    cellView,
    knobSelector,
  };
})();
