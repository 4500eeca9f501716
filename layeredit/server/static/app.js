// The layeredit web editor: a chat that edits one picture, with masks, undo and before/after.
// State lives in the page; every request sends the current picture and masks, so the server
// keeps nothing per user.
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

// Each entry: {image: Blob, masks: Map<name, Blob>, result: server edit response or null}.
const history = [];
let pickingPoint = false;

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

async function dataUrlToBlob(url) {
  return (await fetch(url)).blob();
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
  const links = entry.result ? entry.result.downloads : {};
  setLink("download-image", links.image);
  setLink("download-zip", links.layers_zip);
  setLink("download-psd", links.layers_psd);
  await drawMasks(entry);
  // Published last: whoever waits for this id sees the picture, masks and links that go with it.
  $("after").dataset.resultId = entry.result ? entry.result.id : "";

  document.dispatchEvent(new CustomEvent("layeredit:render", { detail: entry }));
}

// Tint each mask in its own colour on a canvas laid over the picture.
async function drawMasks(entry) {
  const canvas = $("overlay");
  const picture = await loadImage(entry.image);
  canvas.width = picture.naturalWidth;
  canvas.height = picture.naturalHeight;
  const context = canvas.getContext("2d");
  const list = $("mask-list");
  list.replaceChildren();
  const tint = context.createImageData(canvas.width, canvas.height);
  let index = 0;
  for (const [name, blob] of entry.masks) {
    const color = COLORS[index++ % COLORS.length];
    const scratch = document.createElement("canvas");
    scratch.width = canvas.width;
    scratch.height = canvas.height;
    const scratchContext = scratch.getContext("2d");
    scratchContext.drawImage(await loadImage(blob), 0, 0, canvas.width, canvas.height);
    const mask = scratchContext.getImageData(0, 0, canvas.width, canvas.height).data;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
    for (let i = 0; i < mask.length; i += 4) {
      if (mask[i] > 127) {
        tint.data.set([r, g, b, 110], i);
      }
    }
    const chip = document.createElement("li");
    chip.style.background = color;
    chip.textContent = name;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.title = `forget the mask of ${name}`;
    remove.onclick = () => {
      entry.masks.delete(name);
      render();
    };
    chip.append(remove);
    list.append(chip);
  }
  context.putImageData(tint, 0, 0);
  canvas.hidden = !$("show-masks").checked;
}

function showProgress(job) {
  $("progress").hidden = false;
  const fraction = job.total ? job.done / job.total : 0;
  $("progress-bar").style.width = `${Math.round(fraction * 100)}%`;
  const ahead = job.jobs_ahead ? ` (${job.jobs_ahead} ahead)` : "";
  $("progress-text").textContent =
    job.status === "queued" ? `waiting${ahead}` : `${job.stage || "starting"} ${job.done}/${job.total}`;
}

async function errorText(response) {
  try {
    return (await response.json()).detail;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function requestEdit(instruction) {
  const entry = current();
  const form = new FormData();
  form.append("image", entry.image, "image.png");
  form.append("instruction", instruction);
  form.append("hd_strategy", $("hd-strategy").value);
  for (const [name, blob] of entry.masks) form.append("masks", blob, `${name}.png`);
  const started = await fetch("/v1/jobs", { method: "POST", body: form });
  if (!started.ok) throw new Error(await errorText(started));
  let job = await started.json();
  while (job.status === "queued" || job.status === "running") {
    showProgress(job);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const polled = await fetch(`/v1/jobs/${job.id}`);
    if (!polled.ok) throw new Error(await errorText(polled));
    job = await polled.json();
  }
  if (job.status === "failed") throw new Error(job.error);
  return job.result;
}

async function sendInstruction(event) {
  event.preventDefault();
  const instruction = $("instruction").value.trim();
  if (!instruction || !current()) return;
  $("instruction").value = "";
  await runEdit(instruction, instruction);
}

// One chat turn: `shown` in the history, `instruction` (words or plan JSON) to the server.
async function runEdit(instruction, shown) {
  addMessage("user", shown);
  setState("busy");
  try {
    const result = await requestEdit(instruction);
    const image = await (await fetch(result.downloads.image)).blob();
    const masks = new Map();
    for (const [name, url] of Object.entries(result.masks)) masks.set(name, await dataUrlToBlob(url));
    history.push({ image, masks, result });
    const reply = addMessage("assistant", result.summary);
    reply.dataset.resultId = result.id;
    const plan = document.createElement("details");
    plan.innerHTML = "<summary>plan</summary>";
    const json = document.createElement("pre");
    json.textContent = JSON.stringify(result.plan, null, 2);
    plan.append(json);
    const thumbnail = document.createElement("img");
    thumbnail.src = URL.createObjectURL(image);
    thumbnail.alt = "result";
    reply.append(plan, thumbnail);
    $("compare").value = 0;
    $("before").style.clipPath = "";
    await render();
    setState("idle");
  } catch (error) {
    addMessage("error", error.message);
    setState("error");
  } finally {
    $("progress").hidden = true;
  }
}

async function openImage(file) {
  history.length = 0;
  history.push({ image: file, masks: new Map(), result: null });
  $("messages").replaceChildren();
  addMessage("assistant", `Opened ${file.name}. Add masks for the objects you want to edit, then tell me what to do.`);
  await render();
  setState("idle");
}

async function addMaskFile(file) {
  const name = $("mask-name").value.trim() || fileStem(file.name);
  current().masks.set(name, file);
  $("mask-name").value = "";
  await render();
}

async function addMaskAtPoint(event) {
  if (!pickingPoint || !current()) return;
  const picture = $("after");
  const box = picture.getBoundingClientRect();
  const x = Math.floor(((event.clientX - box.left) / box.width) * picture.naturalWidth);
  const y = Math.floor(((event.clientY - box.top) / box.height) * picture.naturalHeight);
  const name = $("mask-name").value.trim() || `object ${current().masks.size + 1}`;
  togglePointMode(false);
  const form = new FormData();
  form.append("image", current().image, "image.png");
  form.append("name", name);
  form.append("x", x);
  form.append("y", y);
  setState("busy");
  try {
    const response = await fetch("/v1/segment", { method: "POST", body: form });
    if (!response.ok) throw new Error(await errorText(response));
    const segment = await response.json();
    current().masks.set(name, await dataUrlToBlob(segment.mask));
    $("mask-name").value = "";
    addMessage("assistant", `Added a mask for "${name}" (${segment.method}, ${segment.area} px). Undo it with × if it is wrong.`);
    await render();
    setState("idle");
  } catch (error) {
    addMessage("error", error.message);
    setState("error");
  }
}

function togglePointMode(on) {
  pickingPoint = on;
  $("point-mode").setAttribute("aria-pressed", String(on));
  $("stage").classList.toggle("picking", on);
}

async function undo() {
  if (history.length < 2) return;
  history.pop();
  addMessage("assistant", "Undone.");
  setState("busy");
  await render();
  setState("idle");
}

// chat.js replaces these with a server chat session (kept across reloads); the rest is shared.
const actions = { openImage, sendInstruction, undo };

$("image-input").addEventListener("change", (event) => {
  if (event.target.files.length) actions.openImage(event.target.files[0]);
  event.target.value = "";
});
$("mask-input").addEventListener("change", (event) => {
  if (event.target.files.length && current()) addMaskFile(event.target.files[0]);
  event.target.value = "";
});
$("point-mode").addEventListener("click", () => togglePointMode(!pickingPoint && Boolean(current())));
$("stage").addEventListener("click", addMaskAtPoint);
$("chat-form").addEventListener("submit", (event) => actions.sendInstruction(event));
$("instruction").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) actions.sendInstruction(event);
});
$("undo").addEventListener("click", () => actions.undo());
$("compare").addEventListener("input", (event) => {
  $("before").style.clipPath = `inset(0 ${100 - event.target.value}% 0 0)`;
});
$("show-masks").addEventListener("change", () => {
  $("overlay").hidden = !$("show-masks").checked;
});

// For layers.js: direct manipulation turns gestures into plan operations sent through runEdit.
window.layeredit = { current, runEdit, addMessage, errorText, loadImage };
