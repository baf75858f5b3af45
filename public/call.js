// The session room's video call: WebRTC between the session's customer and
// mechanic, browser to browser. The app only relays the signalling:
//   POST /api/session/{id}/call/signals      one message {kind, payload}
//   GET  /api/live/session/{id}/call         the other side's messages (SSE), the call's state
//   GET  /api/session/{id}/call/ice          STUN/TURN servers, short-lived TURN credentials
//
// Protocol (no glare: only the customer's browser makes offers):
//   a page that joins sends `hello`; the other side starts a new peer connection
//   for it and answers `welcome`; the customer's side then offers, the mechanic's
//   answers; candidates follow. Every message names its sender's page (`from`)
//   and, but for hello and bye, the page it is for (`to`), so messages for an
//   earlier page (before a reload) are ignored. A dropped connection is brought
//   back by an ICE restart (the mechanic's side asks with `restart`); a reloaded
//   page sends hello again.
//
// Leptos renders an empty #call container; this module builds everything inside
// it, and watches the page so it starts and stops with the room.

const TEXT = {
  waiting: (other) => `Waiting for ${other} to join the call…`,
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Connection lost. Reconnecting…',
  left: (other) => `${other} left the call. Waiting for them to rejoin…`,
  hungUp: 'You left the call.',
  closed: 'The call has closed.',
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function newId() {
  const a = new Uint8Array(8);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

function mediaProblem(e) {
  if (!e) return 'no camera or microphone';
  if (e.name === 'NotAllowedError' || e.name === 'SecurityError') return 'permission was refused';
  if (e.name === 'NotFoundError' || e.name === 'OverconstrainedError') return 'none was found';
  if (e.name === 'NotReadableError') return 'another app is using it';
  return e.message || e.name;
}

class Call {
  constructor(root) {
    this.root = root;
    this.session = root.dataset.callSession;
    // Reached by in-app navigation, the page keeps the previous page's
    // Permissions-Policy, which forbids the camera: load the room itself once.
    const policy = document.permissionsPolicy ?? document.featurePolicy;
    const key = `autodoctor-call-reloaded-${this.session}`;
    if (policy && !policy.allowsFeature('camera') && !sessionStorage.getItem(key)) {
      sessionStorage.setItem(key, '1');
      this.stopped = true;
      location.reload();
      return;
    }
    this.role = root.dataset.callRole;
    this.other = root.dataset.callOther || 'the other side';
    this.offerer = this.role === 'customer';
    this.peer = null; // this page's id in the protocol
    this.remote = null; // the other page's id
    this.pc = null;
    this.local = null; // MediaStream
    this.facing = 'user';
    this.pending = []; // candidates received before the remote description
    this.inbox = Promise.resolve();
    this.outbox = Promise.resolve();
    this.events = null;
    this.ice = null;
    this.open = true; // the server lets the call run
    this.joined = false;
    this.stopped = false;
    this.restartTimer = null;
    this.clockOffset = 0;
    // Figures for tests and scripts/bench (see end2end/).
    this.timings = { signalLatencies: [], joinedAt: null, remoteSeenAt: null, firstFrameAt: null, connectedAt: null };
    this.build();
    window.autodoctorCall = this;
    this.join();
  }

  build() {
    this.root.dataset.ready = 'true';
    this.statusLine = el('p', { class: 'call-status', id: 'call-status', role: 'status', 'aria-live': 'polite' });
    this.notice = el('p', { class: 'call-notice', id: 'call-notice', hidden: true });
    this.remoteVideo = el('video', { id: 'remote-video', autoplay: true, playsInline: true, 'aria-label': `Video from ${this.other}` });
    this.localVideo = el('video', { id: 'local-video', autoplay: true, playsInline: true, muted: true, 'aria-label': 'Your camera' });
    this.localVideo.muted = true;
    const stage = el('div', { class: 'call-stage' }, this.remoteVideo, this.localVideo);
    const button = (id, label, onClick) => {
      const b = el('button', { type: 'button', id, class: 'secondary' }, label);
      b.addEventListener('click', onClick);
      return b;
    };
    this.micButton = button('call-mute', 'Mute', () => this.toggleMic());
    this.camButton = button('call-camera', 'Camera off', () => this.toggleCamera());
    this.flipButton = button('call-flip', 'Switch camera', () => this.flipCamera());
    this.torchButton = button('call-torch', 'Torch on', () => this.toggleTorch());
    this.hangButton = button('call-hangup', 'Hang up', () => this.hangUp());
    this.hangButton.className = 'danger';
    this.rejoinButton = button('call-rejoin', 'Rejoin the call', () => this.join());
    this.rejoinButton.className = 'primary';
    this.micButton.setAttribute('aria-pressed', 'false');
    this.camButton.setAttribute('aria-pressed', 'false');
    this.torchButton.setAttribute('aria-pressed', 'false');
    this.flipButton.hidden = true;
    this.torchButton.hidden = true;
    this.rejoinButton.hidden = true;
    this.controls = el('div', { class: 'call-controls', role: 'group', 'aria-label': 'Call controls' },
      this.micButton, this.camButton, this.flipButton, this.torchButton, this.hangButton, this.rejoinButton);
    this.root.append(this.statusLine, stage, this.controls, this.notice);
  }

  setState(state, text) {
    this.root.dataset.state = state;
    this.statusLine.textContent = text;
  }

  say(message) {
    this.notice.hidden = !message;
    this.notice.textContent = message || '';
  }

  // ------------------------------------------------------------ joining and leaving

  async join() {
    if (this.stopped || !this.open) return;
    this.rejoinButton.hidden = true;
    this.hangButton.hidden = false;
    this.peer = newId();
    this.remote = null;
    this.setState('waiting', TEXT.waiting(this.other));
    this.local = await this.getMedia();
    if (this.stopped) return this.stopTracks();
    this.localVideo.srcObject = this.local;
    this.updateControls();
    try {
      const r = await fetch(`/api/session/${this.session}/call/ice`, { credentials: 'same-origin' });
      const body = await r.json();
      if (!r.ok) return this.close(body.error || TEXT.closed);
      this.ice = body;
    } catch {
      this.say('Could not reach the server. Check your connection; the call will retry when you rejoin.');
      this.rejoinButton.hidden = false;
      return;
    }
    await this.listen();
    if (!this.open || this.stopped) return;
    this.joined = true;
    this.timings.joinedAt = Date.now();
    this.send('hello', {});
  }

  async getMedia() {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.say('This browser cannot use a camera here. You can still see and hear the other side, and the chat works.');
      return null;
    }
    const video = { facingMode: this.facing, width: { ideal: 1280 }, height: { ideal: 720 } };
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video });
    } catch (e) {
      try {
        const audio = await navigator.mediaDevices.getUserMedia({ audio: true });
        this.say(`No camera (${mediaProblem(e)}): the call carries on with audio only.`);
        return audio;
      } catch (e2) {
        this.say(`No camera or microphone (${mediaProblem(e2)}). You can still see and hear ${this.other}, and the chat works.`);
        return null;
      }
    }
  }

  stopTracks() {
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = null;
    this.localVideo.srcObject = null;
  }

  hangUp() {
    if (this.remote || this.joined) this.send('bye', {});
    this.closePeer();
    this.stopTracks();
    this.joined = false;
    this.events?.close();
    this.events = null;
    this.setState('hung-up', TEXT.hungUp);
    this.hangButton.hidden = true;
    this.rejoinButton.hidden = !this.open;
    this.updateControls();
  }

  /** The server says the call may no longer run (time up, session ended). */
  close(message) {
    this.open = false;
    this.closePeer();
    this.stopTracks();
    this.events?.close();
    this.events = null;
    this.joined = false;
    this.setState('closed', message || TEXT.closed);
    this.controls.hidden = true;
  }

  /** The room left the page (navigation): stop everything quietly. */
  stop() {
    this.stopped = true;
    if (this.joined) {
      // The page is going away: a keep-alive request outlives it.
      fetch(`/api/session/${this.session}/call/signals`, {
        method: 'POST',
        credentials: 'same-origin',
        keepalive: true,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'bye', payload: { from: this.peer, t: Date.now() } }),
      }).catch(() => {});
    }
    this.joined = false;
    this.closePeer();
    this.stopTracks();
    this.events?.close();
    if (window.autodoctorCall === this) window.autodoctorCall = null;
  }

  // ------------------------------------------------------------ signalling

  send(kind, payload) {
    const body = JSON.stringify({ kind, payload: { ...payload, from: this.peer, t: Date.now() } });
    // One at a time, in order; a network error is retried (a 4xx is an answer).
    this.outbox = this.outbox.then(async () => {
      for (let attempt = 0; attempt < 6; attempt++) {
        try {
          const r = await fetch(`/api/session/${this.session}/call/signals`, {
            method: 'POST',
            credentials: 'same-origin',
            headers: { 'content-type': 'application/json' },
            body,
          });
          if (r.ok) return;
          const answer = await r.json().catch(() => ({}));
          if (r.status === 409) return this.close(answer.error);
          if (r.status < 500 && r.status !== 429) return this.say(answer.error || 'The server refused a call message.');
        } catch {
          // offline for a moment: try again
        }
        await new Promise((res) => setTimeout(res, 500 * 2 ** attempt));
      }
    });
    return this.outbox;
  }

  listen() {
    if (this.events) return Promise.resolve();
    return new Promise((resolve) => {
      const es = new EventSource(`/api/live/session/${this.session}/call`);
      this.events = es;
      let first = true;
      es.addEventListener('state', (ev) => {
        const s = JSON.parse(ev.data);
        this.clockOffset = Date.parse(s.server_now) - Date.now();
        if (!s.call_open) this.close(s.message);
        if (first) {
          first = false;
          resolve();
        }
      });
      es.addEventListener('signal', (ev) => {
        const msg = JSON.parse(ev.data);
        if (typeof msg.payload?.t === 'number') this.timings.signalLatencies.push(Date.now() - msg.payload.t);
        this.inbox = this.inbox.then(() => this.receive(msg)).catch((e) => console.warn('call: message', msg.kind, e));
      });
      es.addEventListener('ended', (ev) => {
        es.close();
        this.close(ev.data);
        resolve();
      });
      es.addEventListener('problem', (ev) => this.say(ev.data));
      // The browser reconnects by itself (and resumes after the last message it saw).
      es.onerror = () => {
        if (es.readyState === EventSource.CLOSED && this.events === es) {
          this.events = null;
          if (!this.open) return;
          setTimeout(() => this.joined && this.listen(), 2000);
        }
      };
    });
  }

  async receive({ kind, payload: p }) {
    if (!this.joined || !p || p.from === this.peer) return;
    const forMe = p.to === this.peer;
    switch (kind) {
      case 'hello':
        // The other side joined, or reloaded: a new connection for its new page.
        this.startPeer(p.from);
        await this.send('welcome', { to: p.from });
        if (this.offerer) await this.makeOffer(false);
        break;
      case 'welcome':
        if (!forMe || this.remote === p.from) return;
        this.startPeer(p.from);
        if (this.offerer) await this.makeOffer(false);
        break;
      case 'offer':
        if (!forMe || this.offerer) return;
        if (this.remote !== p.from) this.startPeer(p.from);
        await this.pc.setRemoteDescription(p.sdp);
        await this.flushCandidates();
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        await this.send('answer', { to: this.remote, sdp: this.pc.localDescription.toJSON() });
        break;
      case 'answer':
        if (!forMe || p.from !== this.remote || this.pc?.signalingState !== 'have-local-offer') return;
        await this.pc.setRemoteDescription(p.sdp);
        await this.flushCandidates();
        break;
      case 'candidate':
        if (!forMe || p.from !== this.remote || !this.pc) return;
        if (this.pc.remoteDescription) await this.pc.addIceCandidate(p.candidate).catch(() => {});
        else this.pending.push(p.candidate);
        break;
      case 'restart':
        if (forMe && p.from === this.remote && this.offerer) await this.makeOffer(true);
        break;
      case 'bye':
        if (p.from !== this.remote) return;
        this.closePeer();
        this.setState('left', TEXT.left(this.other));
        break;
    }
  }

  async flushCandidates() {
    const list = this.pending;
    this.pending = [];
    for (const c of list) await this.pc.addIceCandidate(c).catch(() => {});
  }

  // ------------------------------------------------------------ the peer connection

  startPeer(remote) {
    this.closePeer();
    this.remote = remote;
    this.timings.remoteSeenAt = Date.now();
    this.setState('connecting', TEXT.connecting);
    const pc = new RTCPeerConnection({
      iceServers: this.ice?.iceServers ?? [],
      iceTransportPolicy: this.ice?.iceTransportPolicy === 'relay' ? 'relay' : 'all',
    });
    this.pc = pc;
    if (this.local) {
      for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
    }
    // The offering side asks for both kinds even without a camera or microphone of its own.
    if (this.offerer) {
      for (const kind of ['audio', 'video']) {
        if (!this.local?.getTracks().some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }
    pc.onicecandidate = (ev) => {
      if (ev.candidate && this.pc === pc) this.send('candidate', { to: remote, candidate: ev.candidate.toJSON() });
    };
    pc.ontrack = (ev) => {
      const stream = ev.streams[0] ?? new MediaStream([ev.track]);
      if (this.remoteVideo.srcObject !== stream) this.remoteVideo.srcObject = stream;
      this.watchFirstFrame();
    };
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const s = pc.connectionState;
      if (s === 'connected') {
        clearTimeout(this.restartTimer);
        this.timings.connectedAt ??= Date.now();
        this.setState('connected', TEXT.connected);
      } else if (s === 'disconnected' || s === 'failed') {
        this.setState('reconnecting', TEXT.reconnecting);
        clearTimeout(this.restartTimer);
        // A short drop often heals by itself; past that (or on failure), restart ICE.
        this.restartTimer = setTimeout(() => this.restartIce(pc), s === 'failed' ? 0 : 2500);
      }
    };
  }

  async restartIce(pc) {
    if (this.pc !== pc || pc.connectionState === 'connected' || !this.open) return;
    if (this.offerer) await this.makeOffer(true);
    else await this.send('restart', { to: this.remote });
    this.restartTimer = setTimeout(() => this.restartIce(pc), 8000);
  }

  async makeOffer(iceRestart) {
    const pc = this.pc;
    if (!pc || pc.signalingState === 'closed') return;
    if (pc.signalingState !== 'stable') await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
    await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
    await this.send('offer', { to: this.remote, sdp: pc.localDescription.toJSON() });
  }

  closePeer() {
    clearTimeout(this.restartTimer);
    if (this.pc) {
      this.pc.onconnectionstatechange = null;
      this.pc.close();
    }
    this.pc = null;
    this.pending = [];
    this.remoteVideo.srcObject = null;
  }

  watchFirstFrame() {
    if (this.timings.firstFrameAt) return;
    const v = this.remoteVideo;
    const seen = () => {
      this.timings.firstFrameAt ??= Date.now();
    };
    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(seen);
    else v.addEventListener('loadeddata', seen, { once: true });
  }

  // ------------------------------------------------------------ controls

  track(kind) {
    return this.local?.getTracks().find((t) => t.kind === kind) ?? null;
  }

  async updateControls() {
    const audio = this.track('audio');
    const video = this.track('video');
    this.micButton.disabled = !audio;
    this.camButton.disabled = !video;
    this.micButton.textContent = audio && !audio.enabled ? 'Unmute' : 'Mute';
    this.micButton.setAttribute('aria-pressed', String(!!audio && !audio.enabled));
    this.camButton.textContent = video && !video.enabled ? 'Camera on' : 'Camera off';
    this.camButton.setAttribute('aria-pressed', String(!!video && !video.enabled));
    const cameras = video ? (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput') : [];
    this.flipButton.hidden = cameras.length < 2;
    const caps = video?.getCapabilities?.() ?? {};
    this.torchButton.hidden = !caps.torch;
  }

  toggleMic() {
    const t = this.track('audio');
    if (t) t.enabled = !t.enabled;
    this.updateControls();
  }

  toggleCamera() {
    const t = this.track('video');
    if (t) t.enabled = !t.enabled;
    this.updateControls();
  }

  /** Front and rear camera on a phone (the rear one shows the engine bay). */
  async flipCamera() {
    const old = this.track('video');
    if (!old) return;
    this.facing = this.facing === 'user' ? 'environment' : 'user';
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { exact: this.facing } } });
      const track = s.getVideoTracks()[0];
      const sender = this.pc?.getSenders().find((x) => x.track?.kind === 'video');
      await sender?.replaceTrack(track);
      this.local.removeTrack(old);
      old.stop();
      this.local.addTrack(track);
      this.localVideo.srcObject = this.local;
      this.torchButton.setAttribute('aria-pressed', 'false');
      this.torchButton.textContent = 'Torch on';
    } catch (e) {
      this.facing = this.facing === 'user' ? 'environment' : 'user';
      this.say(`Could not switch the camera (${mediaProblem(e)}).`);
    }
    this.updateControls();
  }

  async toggleTorch() {
    const t = this.track('video');
    if (!t) return;
    const on = this.torchButton.getAttribute('aria-pressed') !== 'true';
    try {
      await t.applyConstraints({ advanced: [{ torch: on }] });
      this.torchButton.setAttribute('aria-pressed', String(on));
      this.torchButton.textContent = on ? 'Torch off' : 'Torch on';
    } catch {
      this.say('The torch is not available on this camera.');
    }
  }
}

// Start a call for each #call container that appears, and stop it when it goes.
const calls = new Map();
function scan() {
  for (const root of document.querySelectorAll('[data-call-session]')) {
    if (!calls.has(root)) calls.set(root, new Call(root));
  }
  for (const [root, call] of calls) {
    if (!root.isConnected) {
      call.stop();
      calls.delete(root);
    }
  }
}
new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
window.addEventListener('pagehide', () => {
  for (const call of calls.values()) call.stop();
});
scan();
