// The editor's chat as a server session (/v1/sessions): the same agent as `layeredit chat`.
// The server keeps the conversation, its pictures, the marked objects and what is hidden, so a
// reload, a second tab on the same address or a server restart shows them again; the page keeps
// only the session id, in its address (?session=ID). app.js draws the picture and the masks.
"use strict";

const TOKEN_KEY = "layeredit-token"; // a bearer token, when the server was started with one
const POLL_MS = 200;

let session = null; // the last view of the session from the server
let polling = null; // the promise of the poll running while the session is busy

function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Every request of the page goes through here.
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

async function blobAt(url) {
  return (await api(url)).blob();
}

// The page's picture history (app.js's `history`) as the session's turns up to the current one.
// Only the last two pictures are shown (after, and before for the comparison), so only they load;
// the current one as the view shows it (without the hidden objects).
async function showTurns(view) {
  const shown = view.turns.slice(0, view.current + 1);
  const entries = await Promise.all(
    shown.map(async (turn, index) => {
      const last = index === shown.length - 1;
      const needed = index >= shown.length - 2;
      const masks = new Map();
      if (last) {
        for (const [name, url] of Object.entries(turn.masks)) masks.set(name, await blobAt(url));
      }
      const result =
        turn.number === 0
          ? null
          : { id: `${view.id}/${turn.number}`, plan: turn.plan, summary: turn.summary, downloads: { image: turn.image } };
      const picture = last && view.hidden.length ? view.shown : turn.image;
      const hidden = last ? view.hidden : [];
      return { image: needed ? await blobAt(picture) : null, masks, result, turn: turn.number, hidden };
    }),
  );
  history.splice(0, history.length, ...entries);
  $("after").dataset.turn = String(view.current);
  await render();
}

function plannerTag(name) {
  const tag = document.createElement("span");
  tag.className = "planner";
  tag.textContent = `planned by ${name}`;
  return tag;
}

function questionButtons(view) {
  const box = document.createElement("div");
  box.className = "choices";
  view.question.choices.forEach((choice, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "choice";
    button.dataset.choice = String(index);
    if (choice.mask) {
      const thumbnail = document.createElement("img");
      thumbnail.alt = `where "${choice.label}" is`;
      blobAt(choice.mask).then((blob) => {
        thumbnail.src = URL.createObjectURL(blob);
      });
      button.append(thumbnail);
    }
    button.append(document.createTextNode(choice.label));
    button.onclick = () => answerQuestion(index);
    box.append(button);
  });
  // An object the picture has no mask for: mark it, and the request runs again.
  for (const name of view.question.missing || []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "mark-it";
    button.dataset.mark = name;
    button.textContent = `Mark the ${name}`;
    button.title = `Then click on the ${name} in the picture, or drag a box around it`;
    button.onclick = () => window.layeredit.markFor(name, lastRequest(view));
    box.append(button);
  }
  return box;
}

function lastRequest(view) {
  const asked = view.messages.filter((message) => message.role === "user");
  return asked.length ? asked[asked.length - 1].text : null;
}

// The conversation as the server logged it, so the page says the same after a reload.
function showMessages(view) {
  $("messages").replaceChildren();
  const last = view.messages.length - 1;
  view.messages.forEach((message, index) => {
    const kind = message.role === "user" ? "user" : message.kind === "error" ? "error" : "assistant";
    const turn = message.kind === "edit" ? view.turns[message.turn] : null;
    const item = addMessage(kind, turn && turn.summary ? turn.summary : message.text);
    item.dataset.kind = message.kind || "user";
    if (message.planner) item.append(plannerTag(message.planner));
    if (turn && turn.plan) {
      const plan = document.createElement("details");
      plan.innerHTML = "<summary>plan</summary>";
      const json = document.createElement("pre");
      json.textContent = JSON.stringify(turn.plan, null, 2);
      plan.append(json);
      item.append(plan);
    }
    if (index === last && message.kind === "question" && view.question) item.append(questionButtons(view));
  });
}

async function showSession(view) {
  session = view;
  const address = new URL(location.href);
  if (address.searchParams.get("session") !== view.id || address.searchParams.has("token")) {
    address.searchParams.set("session", view.id);
    address.searchParams.delete("token"); // kept in a cookie: the address is safe to copy
    window.history.replaceState(null, "", address);
  }
  document.body.dataset.session = view.id;
  showMessages(view);
  await showTurns(view);
  if (view.busy) {
    showProgress(view.busy);
    setState("busy");
    $("redo").disabled = true;
    if (!polling) {
      polling = waitUntilIdle()
        .catch((error) => addMessage("error", error.message))
        .finally(() => (polling = null));
    }
  } else {
    finishProgress();
    setState("idle");
    $("redo").disabled = !view.can_redo;
  }
  document.body.dataset.turn = String(view.current);
  document.dispatchEvent(new CustomEvent("layeredit:session", { detail: view }));
}

async function waitUntilIdle() {
  let view = session;
  while (view.busy) {
    showProgress(view.busy);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    view = await (await api(`/v1/sessions/${view.id}`)).json();
  }
  await showSession(view);
}

async function run(step) {
  try {
    await step();
  } catch (error) {
    $("progress").hidden = true;
    addMessage("error", error.message);
    setState(session ? "idle" : "error");
  }
}

// Resolves once the session is idle again and shown: the reply is on the page.
async function post(path, form, doing = "sending") {
  setState("busy");
  startProgress(doing);
  const view = await (await api(path, { method: "POST", body: form })).json();
  await showSession(view);
  if (polling) await polling;
}

function startSession(file) {
  return run(async () => {
    const form = new FormData();
    form.append("image", file, file.name);
    await post("/v1/sessions", form, `opening ${file.name}`);
  });
}

// One message of the chat, shown at once as `shown`: `fields` are the form fields of
// POST /v1/sessions/{id}/messages (text, which may be plan JSON, with `said`; or a drag).
// Resolves when the reply is shown.
function say(fields, shown) {
  if (!session || session.busy) return;
  addMessage("user", shown);
  return run(async () => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append("hd_strategy", $("hd-strategy").value); // the "Large photos" select
    await post(`/v1/sessions/${session.id}/messages`, form);
  });
}

// A change of the session that is no turn (a mark, what is hidden): `fields` of POST `/{what}`.
function change(what, fields, doing) {
  if (!session || session.busy) return;
  return run(async () => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) {
      // A file keeps its own name, so an error about it names the file the person chose.
      if (value instanceof File) form.append(name, value, value.name);
      else if (value instanceof Blob) form.append(name, value, `${fields.name || name}.png`);
      else form.append(name, value);
    }
    await post(`/v1/sessions/${session.id}/${what}`, form, doing);
  });
}

function sendMessage(event) {
  event.preventDefault();
  const text = $("instruction").value.trim();
  if (!text || !session || session.busy) return;
  $("instruction").value = "";
  return say({ text }, text);
}

function answerQuestion(index) {
  if (!session || session.busy) return;
  return run(async () => {
    const form = new FormData();
    form.append("choice", String(index));
    form.append("hd_strategy", $("hd-strategy").value);
    await post(`/v1/sessions/${session.id}/messages`, form);
  });
}

function step(direction) {
  if (!session || session.busy) return;
  return run(() => post(`/v1/sessions/${session.id}/${direction}`, undefined, direction === "undo" ? "undoing" : "redoing"));
}

async function resumeSession() {
  const id = new URL(location.href).searchParams.get("session");
  if (!id) return;
  try {
    await showSession(await (await api(`/v1/sessions/${encodeURIComponent(id)}`)).json());
  } catch (error) {
    addMessage("error", `${error.message} (open a picture to start a new one)`);
    const address = new URL(location.href);
    address.searchParams.delete("session");
    window.history.replaceState(null, "", address);
  }
}

// For marks.js and layers.js: their gestures are requests of this session.
Object.assign(window.layeredit, { api, say, change, session: () => session });

actions.openImage = startSession;
actions.sendInstruction = sendMessage;
actions.undo = () => step("undo");
actions.redo = () => step("redo");
resumeSession();
