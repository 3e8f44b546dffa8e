// Zoom and pan for the registry map (an SVG drawn by the server; without
// script it shows the whole country). Buttons, dragging and the + and - keys
// change the SVG's viewBox; sites keep their size on screen.
"use strict";

(function () {
  function setUp(figure) {
    const map = figure.querySelector("svg[data-zoomable]");
    if (!map) return;
    const [x0, y0, w0, h0] = map.getAttribute("viewBox").split(" ").map(Number);
    const sites = Array.from(map.querySelectorAll("circle.site"));
    const radius = sites.length ? Number(sites[0].getAttribute("r")) : 5;
    const labels = Array.from(map.querySelectorAll("text.grid-label"));
    let view = { x: x0, y: y0, w: w0, h: h0 };

    function draw() {
      map.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
      const zoom = w0 / view.w;
      for (const c of sites) c.setAttribute("r", String(Math.max(radius / zoom, 0.4)));
      for (const t of labels) t.style.fontSize = `${11 / zoom}px`;
    }

    function zoomBy(factor) {
      const w = Math.min(Math.max(view.w / factor, w0 / 64), w0 * 2);
      const h = (w * h0) / w0;
      view = { x: view.x + (view.w - w) / 2, y: view.y + (view.h - h) / 2, w, h };
      draw();
    }

    const bar = document.createElement("div");
    bar.className = "map-tools";
    for (const [label, act] of [
      [figure.dataset.zoomIn, () => zoomBy(2)],
      [figure.dataset.zoomOut, () => zoomBy(0.5)],
      [figure.dataset.zoomReset, () => { view = { x: x0, y: y0, w: w0, h: h0 }; draw(); }],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", act);
      bar.appendChild(button);
    }
    figure.insertBefore(bar, figure.firstChild);

    let drag = null;
    map.addEventListener("pointerdown", (e) => {
      if (e.target.closest("a")) return; // a site: follow its link
      drag = { x: e.clientX, y: e.clientY, view: { ...view } };
      map.setPointerCapture(e.pointerId);
    });
    map.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const box = map.getBoundingClientRect();
      view.x = drag.view.x - ((e.clientX - drag.x) * view.w) / box.width;
      view.y = drag.view.y - ((e.clientY - drag.y) * view.h) / box.height;
      draw();
    });
    map.addEventListener("pointerup", () => { drag = null; });
    map.setAttribute("tabindex", "0");
    map.addEventListener("keydown", (e) => {
      if (e.key === "+" || e.key === "=") zoomBy(2);
      else if (e.key === "-") zoomBy(0.5);
      else return;
      e.preventDefault();
    });
  }

  document.querySelectorAll("[data-registry-map]").forEach(setUp);
})();
