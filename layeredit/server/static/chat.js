// The editor's chat as a server session (/v1/sessions): the same agent as `layeredit chat`.
// The server keeps the conversation and its pictures, so a reload (or a server restart) shows
// them again; this tab remembers only the session id. app.js draws the picture and the masks.
"use strict";

const SESSION_KEY = "layeredit-session";
const TOKEN_KEY = "layeredit-token"; // a bearer token, when the server was started with one
const POLL_MS = 200;

let session = null; // the last view of the session from the server
let polling = null; // the promise of the poll running while the session is busy

function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

async function blobAt(url) {
  return (await api(url)).blob();
}

// The page's picture history (app.js's `history`) as the session's turns up to the current one.
// Only the last two pictures are shown (after, and before for the comparison), so only they load.
async function showTurns(view) {
  const shown = view.turns.slice(0, view.current + 1);
  const entries = await Promise.all(
    shown.map(async (turn, index) => {
      const needed = index >= shown.length - 2;
      const masks = new Map();
      if (index === shown.length - 1) {
        for (const [name, url] of Object.entries(turn.masks)) masks.set(name, await blobAt(url));
      }
      const result =
        turn.number === 0
          ? null
          : {
              id: `${view.id}/${turn.number}`,
              plan: turn.plan,
              summary: turn.summary,
              downloads: {
                image: turn.image,
                layers_zip: turn.layers && turn.layers.zip,
                layers_psd: turn.layers && turn.layers.psd,
                layers_ora: turn.layers && turn.layers.ora,
              },
            };
      return { image: needed ? await blobAt(turn.image) : null, masks, result, turn: turn.number };
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
  return box;
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
  sessionStorage.setItem(SESSION_KEY, view.id);
  document.body.dataset.session = view.id;
  showMessages(view);
  await showTurns(view);
  $("redo").disabled = !view.can_redo || Boolean(view.busy);
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
    $("progress").hidden = true;
    setState("idle");
    $("redo").disabled = !view.can_redo;
  }
  document.body.dataset.turn = String(view.current);
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
    addMessage("error", error.message);
    setState(session ? "idle" : "error");
  }
}

// Resolves once the session is idle again and shown: the reply is on the page.
async function post(path, form) {
  setState("busy");
  const view = await (await api(path, { method: "POST", body: form })).json();
  await showSession(view);
  if (polling) await polling;
}

function startSession(file) {
  return run(async () => {
    const form = new FormData();
    form.append("image", file, file.name);
    await post("/v1/sessions", form);
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
    // The marks on the page are the current picture's masks: added, kept or removed there.
    form.append("replace_masks", "true");
    for (const [name, blob] of current().masks) form.append("masks", blob, `${name}.png`);
    await post(`/v1/sessions/${session.id}/messages`, form);
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
  return run(() => post(`/v1/sessions/${session.id}/${direction}`));
}

async function resumeSession() {
  const id = sessionStorage.getItem(SESSION_KEY);
  if (!id) return;
  try {
    await showSession(await (await api(`/v1/sessions/${id}`)).json());
  } catch {
    sessionStorage.removeItem(SESSION_KEY); // gone (or another server): start afresh
  }
}

// For layers.js: its gestures are chat messages of this session, so Undo takes them back.
Object.assign(window.layeredit, { say, session: () => session });

actions.openImage = startSession;
actions.sendInstruction = sendMessage;
actions.undo = () => step("undo");
$("redo").addEventListener("click", () => step("redo"));
resumeSession();
