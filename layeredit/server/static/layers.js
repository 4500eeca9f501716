// Direct manipulation in the web editor: a layers panel (front, back, hide/show, remove),
// drag an object to move it, drag a corner of its frame to resize it. Every gesture but hide is one
// message of the chat session (chat.js): a drag as the session's drag gesture, the others as one
// edit-plan operation, so each shows in the history as a turn and Undo takes it back. Hide is a
// view setting of the session: the picture is shown without the object, and later edits keep it so.
// The zip, PSD and ORA downloads are one decomposition: the clean plate plus a layer per named object.
"use strict";

(() => {
  const api = window.layeredit;
  const $ = (id) => document.getElementById(id);
  const MIN_DRAG = 2; // image pixels; less is a click that selects
  const MIN_SCALE_CHANGE = 0.02;

  // Objects of the current picture: {name, mask: Uint8Array (1 = object), box: [x0, y0, x1, y1], cutout}.
  let objects = [];
  let size = { width: 0, height: 0 };
  let selected = null;
  let gesture = null;

  const style = document.createElement("style");
  style.textContent = `
    #drag-ghost { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
    #layer-frame { position: absolute; border: 1px dashed #ffd54a; outline: 1px dashed #1d2330; pointer-events: none; }
    #layer-frame .handle { position: absolute; width: 12px; height: 12px; background: #ffd54a; border: 1px solid #1d2330; pointer-events: auto; }
    #layer-frame .nw { left: -7px; top: -7px; cursor: nwse-resize; } #layer-frame .se { right: -7px; bottom: -7px; cursor: nwse-resize; }
    #layer-frame .ne { right: -7px; top: -7px; cursor: nesw-resize; } #layer-frame .sw { left: -7px; bottom: -7px; cursor: nesw-resize; }
    #stage.over-object { cursor: grab; } #stage.dragging { cursor: grabbing; }
    #layers-panel h2 { font-size: 14px; margin: 12px 0 4px; }
    #layer-list { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: 4px; max-width: 420px; }
    #layer-list li { display: flex; gap: 6px; align-items: center; padding: 4px 6px; background: #fff; border: 1px solid #d3d7e0; border-radius: 6px; }
    #layer-list li.selected { border-color: #c79a00; background: #fff7d6; }
    #layer-list li span { flex: 1; }
    #layer-list li.hidden-layer { opacity: .6; font-style: italic; }
    #layer-list button { padding: 1px 6px; font-size: 12px; }
  `;
  document.head.append(style);

  const panel = document.createElement("section");
  panel.id = "layers-panel";
  panel.innerHTML = "<h2>Layers</h2><ol id='layer-list'></ol>";
  $("viewer").append(panel);
  const ghost = document.createElement("canvas");
  ghost.id = "drag-ghost";
  const frame = document.createElement("div");
  frame.id = "layer-frame";
  frame.hidden = true;
  for (const corner of ["nw", "ne", "sw", "se"]) {
    const handle = document.createElement("div");
    handle.className = `handle ${corner}`;
    handle.dataset.corner = corner;
    frame.append(handle);
  }
  $("stage").append(ghost, frame);

  const picking = () => Boolean(document.body.dataset.tool); // a marking tool has the pointer
  const busy = () => document.body.dataset.state === "busy";

  function pixels(image) {
    const canvas = document.createElement("canvas");
    canvas.width = size.width;
    canvas.height = size.height;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0, size.width, size.height);
    return { canvas, data: context.getImageData(0, 0, size.width, size.height) };
  }

  async function loadObjects(entry) {
    const picture = await api.loadImage(entry.image);
    size = { width: picture.naturalWidth, height: picture.naturalHeight };
    const source = pixels(picture);
    const found = [];
    for (const [name, blob] of entry.masks) {
      const maskPixels = pixels(await api.loadImage(blob)).data.data;
      const mask = new Uint8Array(size.width * size.height);
      const box = [size.width, size.height, 0, 0];
      const cutout = new ImageData(size.width, size.height);
      for (let i = 0; i < mask.length; i++) {
        if (maskPixels[i * 4] <= 127) continue;
        mask[i] = 1;
        const x = i % size.width;
        const y = (i - x) / size.width;
        box[0] = Math.min(box[0], x);
        box[1] = Math.min(box[1], y);
        box[2] = Math.max(box[2], x + 1);
        box[3] = Math.max(box[3], y + 1);
        cutout.data.set(source.data.data.subarray(i * 4, i * 4 + 4), i * 4);
      }
      if (box[2] > box[0]) found.push({ name, mask, box, cutout, area: mask.reduce((a, b) => a + b, 0) });
    }
    return found;
  }

  // Image coordinates of a pointer event, and how many image pixels one screen pixel is.
  function toImage(event) {
    const rect = $("after").getBoundingClientRect();
    const perScreen = size.width / rect.width;
    return { x: (event.clientX - rect.left) * perScreen, y: (event.clientY - rect.top) * perScreen, perScreen };
  }

  function objectAt(point) {
    const x = Math.floor(point.x);
    const y = Math.floor(point.y);
    if (x < 0 || y < 0 || x >= size.width || y >= size.height) return null;
    // The smallest object under the pointer: a ball in front of a player is what was meant.
    const hidden = hiddenNames();
    const under = objects.filter((object) => object.mask[y * size.width + x] && !hidden.includes(object.name));
    return under.sort((a, b) => a.area - b.area)[0] || null;
  }

  function showFrame(box) {
    frame.hidden = !box;
    if (!box) return;
    const [x0, y0, x1, y1] = box;
    Object.assign(frame.style, {
      left: `${(x0 / size.width) * 100}%`,
      top: `${(y0 / size.height) * 100}%`,
      width: `${((x1 - x0) / size.width) * 100}%`,
      height: `${((y1 - y0) / size.height) * 100}%`,
    });
  }

  // The object drawn where the gesture puts it: shifted by (dx, dy), scaled about its box centre.
  function drawGhost(object, dx, dy, scale) {
    ghost.width = size.width;
    ghost.height = size.height;
    const context = ghost.getContext("2d");
    context.clearRect(0, 0, size.width, size.height);
    if (!object) return;
    const layer = document.createElement("canvas");
    layer.width = size.width;
    layer.height = size.height;
    layer.getContext("2d").putImageData(object.cutout, 0, 0);
    const [x0, y0, x1, y1] = object.box;
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    context.globalAlpha = 0.85;
    context.setTransform(scale, 0, 0, scale, cx + dx - scale * cx, cy + dy - scale * cy);
    context.drawImage(layer, 0, 0);
    context.setTransform(1, 0, 0, 1, 0, 0);
    const box = [x0, y0, x1, y1].map((v, i) => (i % 2 ? cy + dy + scale * (v - cy) : cx + dx + scale * (v - cx)));
    showFrame(box);
  }

  function select(object) {
    selected = object;
    showFrame(object ? object.box : null);
    for (const row of $("layer-list").children) row.classList.toggle("selected", row.dataset.name === object?.name);
  }

  // A gesture as a chat message: `fields` of the session's message form, `shown` in the history.
  function say(fields, shown) {
    select(null);
    drawGhost(null);
    return api.say(fields, shown);
  }

  // One plan operation, said as `shown` ("hide boy"), so the history reads like a typed message.
  function send(operation, shown) {
    return say({ text: JSON.stringify({ operations: [operation] }), said: shown }, shown);
  }

  const hiddenNames = () => api.session()?.hidden || [];

  function setHidden(names) {
    if (!busy()) api.change("hidden", { names: JSON.stringify(names) }, "updating the view");
  }

  function renderPanel() {
    const list = $("layer-list");
    list.replaceChildren();
    const hidden = hiddenNames();
    for (const object of objects) {
      if (hidden.includes(object.name)) {
        // Hidden from view (the edits still see it): listed, with a button that shows it again.
        const row = document.createElement("li");
        row.dataset.name = object.name;
        row.className = "hidden-layer";
        const label = document.createElement("span");
        label.textContent = `${object.name} (hidden)`;
        const show = document.createElement("button");
        show.type = "button";
        show.textContent = "show";
        show.dataset.action = "show";
        show.onclick = () => setHidden(hidden.filter((name) => name !== object.name));
        row.append(label, show);
        list.append(row);
        continue;
      }
      const row = document.createElement("li");
      row.dataset.name = object.name;
      const label = document.createElement("span");
      label.textContent = object.name;
      label.onclick = () => select(object);
      row.append(label);
      const target = { phrase: object.name };
      for (const [text, title, operation, shown] of [
        ["front", "bring in front of the other objects", { op: "reorder", target, position: "front" }, `bring ${object.name} to the front`],
        ["back", "send behind the other objects", { op: "reorder", target, position: "back" }, `send ${object.name} to the back`],
        ["remove", "remove it and paint what was behind (Undo brings it back)", { op: "remove", target }, `remove ${object.name}`],
      ]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = text;
        button.title = title;
        button.dataset.action = text;
        button.onclick = () => busy() || send(operation, shown);
        row.append(button);
      }
      const hide = document.createElement("button");
      hide.type = "button";
      hide.textContent = "hide";
      hide.title = "leave it out of the picture shown (later edits keep it hidden); Show brings it back";
      hide.dataset.action = "hide";
      hide.onclick = () => setHidden([...hidden, object.name]);
      row.insertBefore(hide, row.lastChild);
      list.append(row);
    }
  }

  let renders = 0; // the latest picture shown: objects loaded for an earlier one are dropped
  document.addEventListener("layeredit:render", async (event) => {
    const render = ++renders;
    const found = await loadObjects(event.detail);
    if (render !== renders) return;
    objects = found;
    renderPanel();
    select(null);
    drawGhost(null);
    for (const link of downloads) link.classList.toggle("disabled", objects.length === 0);
  });

  $("stage").addEventListener("pointerdown", (event) => {
    if (picking() || busy() || event.button !== 0 || event.target.closest("#split")) return;
    const point = toImage(event);
    const corner = event.target.dataset?.corner;
    const object = corner ? selected : objectAt(point);
    if (!object) {
      select(null);
      return;
    }
    event.preventDefault();
    $("stage").setPointerCapture(event.pointerId);
    select(object);
    gesture = { object, corner, start: point, dx: 0, dy: 0, scale: 1 };
    $("stage").classList.add("dragging");
  });

  $("stage").addEventListener("pointermove", (event) => {
    const point = toImage(event);
    if (!gesture) {
      $("stage").classList.toggle("over-object", !picking() && Boolean(objectAt(point)));
      return;
    }
    const { object, corner, start } = gesture;
    if (corner) {
      // Uniform scale about the box centre, from how far the corner is dragged along its diagonal.
      const [x0, y0, x1, y1] = object.box;
      const cx = (x0 + x1) / 2;
      const cy = (y0 + y1) / 2;
      const ax = (corner.includes("w") ? x0 : x1) - cx;
      const ay = (corner.includes("n") ? y0 : y1) - cy;
      gesture.scale = Math.max(0.05, ((point.x - cx) * ax + (point.y - cy) * ay) / (ax * ax + ay * ay));
      drawGhost(object, 0, 0, gesture.scale);
    } else {
      gesture.dx = point.x - start.x;
      gesture.dy = point.y - start.y;
      drawGhost(object, gesture.dx, gesture.dy, 1);
    }
  });

  $("stage").addEventListener("pointerup", () => {
    if (!gesture) return;
    const { object, corner, start, dx, dy, scale } = gesture;
    gesture = null;
    $("stage").classList.remove("dragging");
    const target = { phrase: object.name };
    if (corner && Math.abs(scale - 1) >= MIN_SCALE_CHANGE) {
      const rounded = Math.min(10, Math.round(scale * 100) / 100);
      send({ op: "resize", target, scale: rounded }, `resize ${object.name} ×${rounded}`);
    } else if (!corner && Math.hypot(dx, dy) >= MIN_DRAG) {
      const from = [Math.round(start.x), Math.round(start.y)];
      const to = [from[0] + Math.round(dx), from[1] + Math.round(dy)];
      const signed = (value) => (value < 0 ? `${value}` : `+${value}`);
      const by = `(${signed(to[0] - from[0])}, ${signed(to[1] - from[1])})`;
      // Shown as the session logs a drag, so the history reads the same after the reply.
      say({ drag: JSON.stringify({ name: object.name, from, to }) }, `drag the ${object.name} by ${by} px`);
    } else {
      drawGhost(null);
      select(object);
    }
  });

  // Each layer download decomposes the current picture with its named objects, so the three agree.
  const downloads = ["download-zip", "download-psd", "download-ora"].map($);
  for (const link of downloads) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const entry = api.current();
      if (!entry || entry.masks.size === 0 || busy()) return;
      const format = link.dataset.format;
      const form = new FormData();
      const view = api.session();
      try {
        // The picture itself, with the objects hidden from view (the view shows it without them).
        const picture = await (await api.api(view.turns[view.current].image)).blob();
        form.append("image", picture, "image.png");
        form.append("format", format);
        for (const [name, blob] of entry.masks) form.append("masks", blob, `${name}.png`);
        const response = await api.api("/v1/decompose", { method: "POST", body: form });
        const save = document.createElement("a");
        save.href = URL.createObjectURL(await response.blob());
        save.download = `layers.${format}`;
        save.click();
      } catch (error) {
        api.addMessage("error", error.message);
      }
    });
  }
})();
