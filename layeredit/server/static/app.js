// The layeredit web editor's page: the picture with its masks, the before/after split, progress,
// opening a picture (button, drop, paste) and the keyboard. chat.js talks to the server session,
// marks.js marks objects, layers.js moves them.
"use strict";

// Every call says it comes from this editor: the server refuses a browser's state-changing
// request without this header, and a page on another site cannot add it.
const unmarkedFetch = window.fetch.bind(window);
window.fetch = (resource, options = {}) => {
  const headers = new Headers(options.headers);
  headers.set("X-Layeredit", "1");
  return unmarkedFetch(resource, { ...options, headers });
};

const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];
const $ = (id) => document.getElementById(id);

// The session's pictures up to the current one; each {image: Blob|null, masks: Map<name, Blob>,
// result, turn, hidden: names left out of the picture shown}. Only the last two carry their
// picture (after, and before for the split).
const history = [];

const current = () => history[history.length - 1];

function setState(state) {
  document.body.dataset.state = state;
  const ready = history.length > 0 && state !== "busy";
  $("instruction").disabled = !ready;
  $("send").disabled = !ready;
  $("undo").disabled = !(history.length > 1 && state !== "busy");
}

function addMessage(kind, text) {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = text;
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function fileStem(name) {
  return name.replace(/\.[^.]*$/, "").trim();
}

function loadImage(blob) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the browser cannot show this image"));
    image.src = URL.createObjectURL(blob);
  });
}

function setLink(id, url) {
  const link = $(id);
  link.classList.toggle("disabled", !url);
  if (url) link.href = url;
  else link.removeAttribute("href");
}

async function render() {
  const entry = current();
  $("stage").hidden = !entry;
  $("compare-row").hidden = !entry;
  $("placeholder").hidden = Boolean(entry);
  if (!entry) return;
  const before = history.length > 1 ? history[history.length - 2] : entry;
  $("after").src = URL.createObjectURL(entry.image);
  $("before").src = URL.createObjectURL(before.image);
  $("split").hidden = history.length < 2; // nothing to compare with before the first edit
  setLink("download-image", entry.result ? entry.result.downloads.image : null);
  await drawMasks(entry);
  // Published last: whoever waits for this id sees the picture, masks and links that go with it.
  $("after").dataset.resultId = entry.result ? entry.result.id : "";

  document.dispatchEvent(new CustomEvent("layeredit:render", { detail: entry }));
}

// Each mask tinted in its own colour, with its name, on a canvas laid over the picture.
async function drawMasks(entry) {
  const canvas = $("overlay");
  const picture = await loadImage(entry.image);
  const width = picture.naturalWidth;
  const height = picture.naturalHeight;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const list = $("mask-list");
  list.replaceChildren();
  const tint = context.createImageData(width, height);
  const labels = [];
  let index = 0;
  for (const [name, blob] of entry.masks) {
    const color = COLORS[index++ % COLORS.length];
    const onPicture = !(entry.hidden || []).includes(name); // a hidden object is not tinted
    const scratch = document.createElement("canvas");
    scratch.width = width;
    scratch.height = height;
    const scratchContext = scratch.getContext("2d");
    scratchContext.drawImage(await loadImage(blob), 0, 0, width, height);
    const mask = scratchContext.getImageData(0, 0, width, height).data;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
    let top = null;
    for (let i = 0; onPicture && i < mask.length; i += 4) {
      if (mask[i] > 127) {
        tint.data.set([r, g, b, 110], i);
        if (top === null) top = i / 4;
      }
    }
    if (top !== null) labels.push({ name, color, x: top % width, y: Math.floor(top / width) });
    const chip = document.createElement("li");
    chip.style.background = color;
    chip.dataset.name = name;
    chip.textContent = name;
    chip.title = `select ${name} for the brush and the eraser`;
    chip.onclick = () => document.dispatchEvent(new CustomEvent("layeredit:pick-mask", { detail: name }));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.title = `forget the mask of ${name}`;
    remove.onclick = (event) => {
      event.stopPropagation();
      document.dispatchEvent(new CustomEvent("layeredit:forget-mask", { detail: name }));
    };
    chip.append(remove);
    list.append(chip);
  }
  context.putImageData(tint, 0, 0);
  // Names at the top of each mask, large enough to read however the picture is scaled.
  const size = Math.max(12, Math.round(width / 32));
  context.font = `bold ${size}px system-ui, sans-serif`;
  context.textBaseline = "bottom";
  for (const label of labels) {
    const x = Math.min(Math.max(2, label.x - context.measureText(label.name).width / 2), width - 2);
    const y = Math.max(size + 4, label.y - 2);
    context.lineWidth = Math.max(3, size / 5);
    context.strokeStyle = "#fff";
    context.strokeText(label.name, x, y);
    context.fillStyle = label.color;
    context.fillText(label.name, x, y);
  }
  canvas.hidden = !$("show-masks").checked;
}

// The bubble shows at once when something is sent; its bar is full only when the work is done.
let progressStarted = 0;

function startProgress(text) {
  progressStarted = performance.now();
  $("progress").hidden = false;
  $("progress").dataset.done = "false";
  $("progress-bar").style.width = "3%";
  $("progress-text").textContent = text;
}

function showProgress(job) {
  if ($("progress").hidden) startProgress("starting");
  const fraction = job.total ? Math.min(1, job.done / job.total) : 0;
  // A stage's steps fill at most 90%: more stages may follow, and 100% means "done".
  $("progress-bar").style.width = `${Math.round(5 + 85 * fraction)}%`;
  const seconds = Math.round((performance.now() - progressStarted) / 1000);
  const ahead = job.jobs_ahead ? ` (${job.jobs_ahead} ahead)` : "";
  const stage = job.total ? `${job.stage} (step ${job.done} of ${job.total})` : job.stage || "starting";
  $("progress-text").textContent = `${job.status === "queued" ? `waiting${ahead}` : stage} · ${seconds} s`;
}

function finishProgress() {
  if ($("progress").hidden) return;
  $("progress").dataset.done = "true";
  $("progress-bar").style.width = "100%";
  $("progress-text").textContent = "done";
  setTimeout(() => {
    if ($("progress").dataset.done === "true") $("progress").hidden = true;
  }, 400);
}

async function errorText(response) {
  try {
    return (await response.json()).detail;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

// The before/after split: the picture before the last edit shows left of the line.
function setSplit(percent) {
  const value = Math.min(100, Math.max(0, percent));
  $("compare").value = String(Math.round(value));
  $("before").style.clipPath = `inset(0 ${100 - value}% 0 0)`;
  $("split").style.left = `${value}%`;
  // The label slides from the line's right side to its left, so it stays on the picture.
  $("split").firstElementChild.style.transform = `translate(-${value}%, -50%)`;
}

// chat.js fills these in: a server chat session (kept across reloads and tabs) does the work.
const actions = { openImage: null, sendInstruction: null, undo: null, redo: null };

function openFile(file) {
  if (!file || !file.type.startsWith("image/")) {
    if (file) addMessage("error", `${file.name || "that"} is not a picture; open a PNG, JPEG or WebP file`);
    return;
  }
  if (document.body.dataset.state === "busy") return;
  actions.openImage(file.name ? file : new File([file], "pasted.png", { type: file.type }));
}

$("image-input").addEventListener("change", (event) => {
  if (event.target.files.length) openFile(event.target.files[0]);
  event.target.value = "";
});
document.addEventListener("dragover", (event) => {
  if (![...event.dataTransfer.types].includes("Files")) return;
  event.preventDefault();
  document.body.classList.add("dropping");
});
document.addEventListener("dragleave", (event) => {
  if (!event.relatedTarget) document.body.classList.remove("dropping");
});
document.addEventListener("drop", (event) => {
  document.body.classList.remove("dropping");
  if (!event.dataTransfer.files.length) return;
  event.preventDefault();
  openFile(event.dataTransfer.files[0]);
});
document.addEventListener("paste", (event) => {
  const file = [...event.clipboardData.files].find((item) => item.type.startsWith("image/"));
  if (!file) return; // text pastes into the message box as usual
  event.preventDefault();
  openFile(file);
});
// Ctrl+Z / Ctrl+Shift+Z (and Ctrl+Y) undo and redo, except while typing, where they edit the text.
document.addEventListener("keydown", (event) => {
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
  if (event.target.closest("input[type='text'], textarea")) return;
  const key = event.key.toLowerCase();
  const redo = (key === "z" && event.shiftKey) || key === "y";
  if (key !== "z" && key !== "y") return;
  event.preventDefault();
  if (redo) actions.redo();
  else actions.undo();
});
$("chat-form").addEventListener("submit", (event) => actions.sendInstruction(event));
$("instruction").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) actions.sendInstruction(event);
});
$("undo").addEventListener("click", () => actions.undo());
$("redo").addEventListener("click", () => actions.redo());
$("compare").addEventListener("input", (event) => setSplit(Number(event.target.value)));
$("split").addEventListener("pointerdown", (event) => {
  event.preventDefault();
  event.stopPropagation();
  const handle = $("split");
  handle.setPointerCapture(event.pointerId);
  const follow = (move) => {
    const box = $("after").getBoundingClientRect();
    setSplit(((move.clientX - box.left) / box.width) * 100);
  };
  handle.addEventListener("pointermove", follow);
  handle.addEventListener("pointerup", () => handle.removeEventListener("pointermove", follow), { once: true });
});
$("show-masks").addEventListener("change", () => {
  $("overlay").hidden = !$("show-masks").checked;
});

// For chat.js, marks.js and layers.js.
window.layeredit = {
  current, history, render, setState, addMessage, errorText, loadImage, fileStem,
  startProgress, showProgress, finishProgress, setSplit, actions,
};
