// Marking objects in the web editor: Mark (click on an object, or drag a box around it), Brush and
// Eraser (correct a mask), a mask file, and forgetting a mask. Each is a mark of the server session
// (POST /v1/sessions/{id}/marks, found by the server's segmenter), and each can be undone: Undo and
// Ctrl+Z take back the marks made since the last edit first, then the edits.
"use strict";

(() => {
  const page = window.layeredit;
  const $ = (id) => document.getElementById(id);
  const TOOLS = ["mark", "brush", "eraser"];
  const MIN_BOX = 5; // screen pixels: a smaller drag is a click

  let tool = null;
  let picked = null; // the mask the brush and the eraser correct
  let retry = null; // the request to send again once its missing object is marked
  let gesture = null;
  // Marks since the last edit, each {name, before, after} (mask PNG Blobs, null = no mask).
  const undoable = [];
  const redoable = [];
  let marksOf = null; // the session and turn those marks belong to

  function setTool(next) {
    tool = next;
    for (const name of TOOLS) $(`tool-${name}`).setAttribute("aria-pressed", String(tool === name));
    document.body.dataset.tool = tool || "";
  }

  function pick(name) {
    picked = name;
    if (name) $("mask-name").value = name;
    for (const chip of $("mask-list").children) chip.classList.toggle("picked", chip.dataset.name === name);
  }

  // Pixels of the picture under a pointer event, and how many picture pixels one screen pixel is.
  function toImage(event) {
    const picture = $("after");
    const box = picture.getBoundingClientRect();
    const perScreen = picture.naturalWidth / box.width;
    return { x: (event.clientX - box.left) * perScreen, y: (event.clientY - box.top) * perScreen, perScreen };
  }

  function sketch() {
    const canvas = $("sketch");
    const picture = $("after");
    if (canvas.width !== picture.naturalWidth || canvas.height !== picture.naturalHeight) {
      canvas.width = picture.naturalWidth;
      canvas.height = picture.naturalHeight;
    }
    return canvas.getContext("2d");
  }

  function clearSketch() {
    const context = sketch();
    context.clearRect(0, 0, context.canvas.width, context.canvas.height);
  }

  function nameForMark() {
    const typed = $("mask-name").value.trim();
    return typed || `object ${page.current().masks.size + 1}`;
  }

  // Change the mask `name` (to `after` found by `fields`, or painted), remembering it for Undo.
  async function mark(name, fields, doing) {
    const before = page.current().masks.get(name.toLowerCase()) || null;
    await page.change("marks", { name, ...fields }, doing);
    const after = page.current().masks.get(name.toLowerCase()) || null;
    if (after === before) return; // it failed; the error is in the chat
    undoable.push({ name: name.toLowerCase(), before, after });
    redoable.length = 0;
    pick(after ? name.toLowerCase() : null);
    refreshUndo();
    if (retry && after) {
      const request = retry;
      retry = null;
      setTool(null);
      await page.say({ text: request }, request);
    }
  }

  async function restore(entry, mask, stackFrom, stackTo) {
    stackFrom.pop();
    await page.change("marks", mask ? { name: entry.name, mask } : { name: entry.name }, `restoring ${entry.name}`);
    stackTo.push(entry);
    refreshUndo();
  }

  function refreshUndo() {
    document.body.dataset.marks = String(undoable.length); // marks that Undo would take back
    if (document.body.dataset.state === "busy") return;
    $("undo").disabled = !(undoable.length || page.history.length > 1);
    $("redo").disabled = !(redoable.length || page.session()?.can_redo);
  }

  // A brush or eraser stroke applied to the mask `name`: the new mask as a PNG Blob.
  async function paintedMask(name, stroke, erase) {
    const width = stroke.width;
    const height = stroke.height;
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    const old = page.current().masks.get(name);
    context.fillStyle = "#000";
    context.fillRect(0, 0, width, height);
    if (old) context.drawImage(await page.loadImage(old), 0, 0, width, height);
    const pixels = context.getImageData(0, 0, width, height);
    const painted = stroke.getContext("2d").getImageData(0, 0, width, height).data;
    for (let i = 0; i < painted.length; i += 4) {
      const value = painted[i + 3] > 0 ? (erase ? 0 : 255) : pixels.data[i] > 127 ? 255 : 0;
      pixels.data.set([value, value, value, 255], i);
    }
    context.putImageData(pixels, 0, 0);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  function brushName() {
    const typed = $("mask-name").value.trim().toLowerCase();
    if (typed) return typed;
    if (picked) return picked;
    const names = [...page.current().masks.keys()];
    return names.length === 1 ? names[0] : null;
  }

  // Capture phase: with a tool chosen, the picture's pointer belongs to it, not to layers.js's drags.
  $("stage").addEventListener(
    "pointerdown",
    (event) => {
      if (!tool || event.button !== 0 || event.target.closest("#split")) return;
      event.preventDefault();
      event.stopPropagation();
      if (document.body.dataset.state === "busy" || !page.current()) return;
      const start = toImage(event);
      let name = null;
      if (tool !== "mark") {
        name = brushName();
        if (!name) {
          page.addMessage("error", "Which mask? Click a mask's name under the picture, or type a name, then paint.");
          return;
        }
      }
      $("stage").setPointerCapture(event.pointerId);
      gesture = { start, last: start, name, screen: { x: event.clientX, y: event.clientY } };
      clearSketch();
      if (tool !== "mark") paint(start);
    },
    { capture: true },
  );

  function paint(point) {
    const context = sketch();
    const size = Number($("brush-size").value) * point.perScreen;
    context.strokeStyle = tool === "eraser" ? "rgba(20, 20, 20, .75)" : "rgba(255, 213, 74, .75)";
    context.lineWidth = size;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(gesture.last.x, gesture.last.y);
    context.lineTo(point.x + 0.01, point.y);
    context.stroke();
    gesture.last = point;
  }

  $("stage").addEventListener(
    "pointermove",
    (event) => {
      if (!tool) return;
      event.stopPropagation();
      if (!gesture) return;
      const point = toImage(event);
      if (tool !== "mark") {
        paint(point);
        return;
      }
      const context = sketch();
      const { start } = gesture;
      context.clearRect(0, 0, context.canvas.width, context.canvas.height);
      context.lineWidth = 2 * point.perScreen;
      context.setLineDash([6 * point.perScreen, 4 * point.perScreen]);
      context.strokeStyle = "#ffd54a";
      context.strokeRect(start.x, start.y, point.x - start.x, point.y - start.y);
    },
    { capture: true },
  );

  $("stage").addEventListener(
    "pointerup",
    async (event) => {
      if (!tool || !gesture) return;
      event.stopPropagation();
      const { start, name, screen } = gesture;
      gesture = null;
      const end = toImage(event);
      if (tool !== "mark") {
        const blob = await paintedMask(name, $("sketch"), tool === "eraser");
        clearSketch();
        await mark(name, { mask: blob }, `${tool === "eraser" ? "erasing from" : "painting"} ${name}`);
        return;
      }
      clearSketch();
      const markName = nameForMark();
      const dragged = Math.hypot(event.clientX - screen.x, event.clientY - screen.y) >= MIN_BOX;
      const fields = dragged
        ? { box: JSON.stringify([start.x, start.y, end.x, end.y].map(Math.round)) }
        : { x: String(Math.floor(start.x)), y: String(Math.floor(start.y)) };
      await mark(markName, fields, `marking ${markName}`);
    },
    { capture: true },
  );

  for (const name of TOOLS) {
    $(`tool-${name}`).addEventListener("click", () => setTool(tool === name || !page.current() ? null : name));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setTool(null);
  });

  $("mask-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (!file || !page.current()) return;
    const name = $("mask-name").value.trim() || page.fileStem(file.name);
    mark(name, { mask: file }, `adding the mask of ${name}`);
  });
  document.addEventListener("layeredit:pick-mask", (event) => pick(event.detail));
  document.addEventListener("layeredit:forget-mask", (event) => mark(event.detail, {}, `forgetting ${event.detail}`));
  document.addEventListener("layeredit:render", () => pick(picked && page.current().masks.has(picked) ? picked : null));
  document.addEventListener("layeredit:session", (event) => {
    const view = event.detail;
    const key = `${view.id}/${view.current}/${view.turns.length}`;
    if (key !== marksOf) {
      marksOf = key;
      undoable.length = 0;
      redoable.length = 0;
    }
    refreshUndo();
  });

  // Undo and Redo take back marks made since the last edit before they step through the edits.
  const undoEdit = page.actions.undo;
  const redoEdit = page.actions.redo;
  page.actions.undo = () => {
    const entry = undoable[undoable.length - 1];
    return entry ? restore(entry, entry.before, undoable, redoable) : undoEdit();
  };
  page.actions.redo = () => {
    const entry = redoable[redoable.length - 1];
    return entry ? restore(entry, entry.after, redoable, undoable) : redoEdit();
  };

  // The "Mark the lamp" button of a reply: the Mark tool on, named, and the request sent again after.
  page.markFor = (name, request) => {
    $("mask-name").value = name;
    setTool("mark");
    retry = request;
    page.addMessage("assistant", `Click on the ${name} in the picture, or drag a box around it.`);
  };
})();
