// gosfu demo client: one RTCPeerConnection speaking Sora-compatible
// signaling over a WebSocket, without any SDK.
//
//   → connect            ← offer      → answer, candidate…
//   ← re-offer → re-answer  (one at a time)
//   ← ping     → pong       ← notify / push
//   → disconnect
//
// The server puts our own audio/video m-lines first and names them in
// offer.mid; every other publisher arrives as a stream whose id is that
// publisher's connection id.

const $ = (selector) => document.querySelector(selector);
const ui = {
  form: $("#controls"),
  channel: $("#channel"),
  join: $("#join"),
  leave: $("#leave"),
  status: $("#status"),
  selfId: $("#self-id"),
  local: $("#local"),
  remotes: $("#remotes"),
  log: $("#log"),
};

const params = new URLSearchParams(location.search);
ui.channel.value = params.get("channel") || "sora";

let session = null; // the current connection, if any

function signalingURL() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/signaling`;
}

// ---- joining and leaving ----------------------------------------------

async function join(channelId) {
  if (session) return;
  const s = {
    channelId,
    ws: null,
    pc: null,
    stream: null,
    connectionId: null,
    queue: Promise.resolve(), // offers and re-offers, handled one at a time
    answered: false,
    pendingCandidates: [],
    tiles: new Map(), // connection id → <figure>
    leaving: false,
    closed: false,
  };
  session = s;
  setInSession(true);

  setStatus("Starting camera…");
  try {
    s.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (err) {
    log(`No camera/microphone (${err.name}); joining to watch only`);
  }
  if (s.closed) {
    s.stream?.getTracks().forEach((t) => t.stop()); // left while the camera started
    return;
  }
  ui.local.srcObject = s.stream;

  setStatus("Connecting…");
  const ws = new WebSocket(signalingURL());
  s.ws = ws;
  ws.onopen = () =>
    send(s, {
      type: "connect",
      role: s.stream ? "sendrecv" : "recvonly",
      channel_id: channelId,
      audio: true,
      video: true,
      sora_client: "gosfu demo",
    });
  ws.onmessage = (ev) => onMessage(s, ev.data);
  ws.onclose = (ev) => {
    const why = ev.reason ? `${ev.code} ${ev.reason}` : `${ev.code}`;
    log(`Signaling closed (${why})`);
    teardown(s, s.leaving ? "Left the channel" : `Disconnected (${why})`);
  };
}

async function leave() {
  const s = session;
  if (!s) return;
  s.leaving = true;
  send(s, { type: "disconnect", reason: "NO-ERROR" });
  // The server closes the WebSocket right away; don't wait for long.
  await closed(s.ws, 1000);
  teardown(s, "Left the channel");
}

function teardown(s, statusText) {
  if (s.closed) return;
  s.closed = true;
  if (session === s) session = null;
  if (s.ws) {
    s.ws.onclose = s.ws.onmessage = null;
    if (s.ws.readyState <= WebSocket.OPEN) s.ws.close(1000);
  }
  s.pc?.close();
  s.stream?.getTracks().forEach((t) => t.stop());
  ui.local.srcObject = null;
  ui.selfId.textContent = "";
  ui.remotes.replaceChildren();
  setStatus(statusText);
  setInSession(false);
}

function closed(ws, timeoutMs) {
  if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    ws.addEventListener("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

// ---- signaling ---------------------------------------------------------

function send(s, message) {
  if (s.ws?.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify(message));
}

function onMessage(s, data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  switch (msg.type) {
    case "offer":
      enqueue(s, () => onOffer(s, msg));
      break;
    case "re-offer":
      enqueue(s, () => onReOffer(s, msg));
      break;
    case "ping":
      pong(s, msg);
      break;
    case "notify":
      onNotify(s, msg);
      break;
    case "push":
      log(`push ${JSON.stringify(msg.data)}`);
      break;
  }
}

// Negotiations never overlap: each waits for the previous one.
function enqueue(s, task) {
  s.queue = s.queue.then(task).catch((err) => {
    console.error(err);
    log(`Negotiation failed: ${err.message}`);
    teardown(s, `Negotiation failed: ${err.message}`);
  });
}

async function onOffer(s, offer) {
  if (s.closed) return;
  s.connectionId = offer.connection_id;
  ui.selfId.textContent = offer.connection_id;

  const pc = new RTCPeerConnection(offer.config || {});
  s.pc = pc;
  pc.ontrack = (ev) => onTrack(s, ev);
  pc.onicecandidate = ({ candidate }) => {
    if (!candidate) return;
    const message = { type: "candidate", ...candidate.toJSON() };
    if (s.answered) send(s, message);
    else s.pendingCandidates.push(message);
  };
  pc.onconnectionstatechange = () => {
    if (s.closed) return;
    const state = pc.connectionState;
    if (state === "connected") setStatus(`Connected to “${s.channelId}”`);
    else if (state === "failed") teardown(s, "Connection failed");
    else setStatus(`Connection ${state}`);
  };

  await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
  if (s.stream) await attachLocalTracks(s, pc, offer.mid || {});
  await pc.setLocalDescription(await pc.createAnswer());
  send(s, { type: "answer", sdp: pc.localDescription.sdp });

  s.answered = true;
  s.pendingCandidates.forEach((m) => send(s, m));
  s.pendingCandidates = [];
}

// Our camera and microphone go out on the m-lines the server named in offer.mid.
async function attachLocalTracks(s, pc, mid) {
  const tracks = {
    [mid.audio]: s.stream.getAudioTracks()[0],
    [mid.video]: s.stream.getVideoTracks()[0],
  };
  for (const transceiver of pc.getTransceivers()) {
    const track = transceiver.mid != null ? tracks[transceiver.mid] : undefined;
    if (!track) continue;
    await transceiver.sender.replaceTrack(track);
    transceiver.sender.setStreams?.(s.stream);
    transceiver.direction = "sendonly";
  }
}

async function onReOffer(s, msg) {
  if (s.closed || !s.pc) return;
  await s.pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
  await s.pc.setLocalDescription(await s.pc.createAnswer());
  send(s, { type: "re-answer", sdp: s.pc.localDescription.sdp });
}

async function pong(s, ping) {
  const reply = { type: "pong" };
  if (ping.stats) {
    reply.stats = [];
    try {
      if (s.pc) reply.stats = [...(await s.pc.getStats()).values()];
    } catch {
      // a closed PeerConnection has no stats
    }
  }
  send(s, reply);
}

function onNotify(s, msg) {
  const id = msg.connection_id;
  const who = id && id === s.connectionId ? "you" : id || "";
  const count = msg.channel_connections != null ? ` · ${msg.channel_connections} in channel` : "";
  log(`${msg.event_type} ${who}${count}`);
}

// ---- remote videos -----------------------------------------------------

function onTrack(s, ev) {
  const stream = ev.streams[0];
  if (!stream || !stream.id || stream.id === "default" || stream.id === s.connectionId) return;
  if (!s.tiles.has(stream.id)) {
    const tile = remoteTile(stream);
    s.tiles.set(stream.id, tile);
    ui.remotes.append(tile);
  }
  stream.onremovetrack = () => {
    if (stream.getTracks().length > 0) return;
    s.tiles.get(stream.id)?.remove();
    s.tiles.delete(stream.id);
  };
}

function remoteTile(stream) {
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true;
  video.defaultMuted = true; // the `muted` attribute
  video.setAttribute("playsinline", "");
  video.dataset.connectionId = stream.id;
  video.title = "Click to unmute";
  video.srcObject = stream;
  video.addEventListener("click", () => {
    video.muted = !video.muted;
    video.title = video.muted ? "Click to unmute" : "Click to mute";
    figure.classList.toggle("unmuted", !video.muted);
  });

  const id = document.createElement("code");
  id.textContent = stream.id;
  const caption = document.createElement("figcaption");
  caption.append(id);

  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.append(video, caption);
  return figure;
}

// ---- page --------------------------------------------------------------

function setStatus(text) {
  ui.status.textContent = text;
}

function setInSession(on) {
  ui.join.disabled = on;
  ui.channel.disabled = on;
  ui.leave.disabled = !on;
}

function log(text) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  item.append(time, ` ${text}`);
  ui.log.prepend(item);
  while (ui.log.children.length > 100) ui.log.lastElementChild.remove();
}

ui.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const channelId = ui.channel.value.trim();
  if (!channelId) return;
  params.set("channel", channelId);
  history.replaceState(null, "", `?${params}`);
  join(channelId);
});
ui.leave.addEventListener("click", leave);
addEventListener("pagehide", () => {
  if (session) send(session, { type: "disconnect", reason: "NO-ERROR" });
});

if (params.get("autojoin") === "1") join(ui.channel.value.trim());
