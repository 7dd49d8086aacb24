// The status page's script. Plain ES2017 for every current browser, phones included. It only
// ever sets text (textContent, never markup), and talks to this serve alone, with the client key
// from sessionStorage as a header: no cookies, nothing from anywhere else.
(function () {
  'use strict';
  var KEY_STORE = 'qwenauth.clientKey';
  var POLL_MS = 1000;
  var RETRY_MS = 3000;
  var ARM_MS = 4000;
  // The page may sit behind a reverse proxy under a prefix: its data is beside it.
  var base = location.pathname.replace(/\/ui\/?$/, '/').replace(/[^/]*$/, '');
  var state = null;
  var clockOffset = 0;
  var timer = null;
  var polling = false;
  // Where sessionStorage is refused (some private modes), the key lasts until the page reloads.
  var memoryKey = '';
  var cards = {};
  var providersFilled = false;

  function $(id) { return document.getElementById(id); }

  function clientKey() {
    try { return sessionStorage.getItem(KEY_STORE) || memoryKey; } catch (e) { return memoryKey; }
  }
  function setClientKey(value) {
    memoryKey = value;
    try {
      if (value) sessionStorage.setItem(KEY_STORE, value);
      else sessionStorage.removeItem(KEY_STORE);
    } catch (e) { /* refused: memoryKey holds it */ }
  }

  function request(path, body) {
    var headers = { Accept: 'application/json' };
    var key = clientKey();
    if (key) headers.Authorization = 'Bearer ' + key;
    var init = { method: body ? 'POST' : 'GET', headers: headers, credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer' };
    if (body) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(base + path, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, json: json };
      });
    });
  }

  // ---- polling: one request at a time, at most one a second, none while the tab is hidden ----
  function schedule(ms) {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }
  function poll() {
    timer = null;
    if (document.hidden) return setLive('paused', '');
    // The answer in flight schedules the next poll.
    if (polling) return;
    polling = true;
    request('ui/state').then(function (answer) {
      polling = false;
      if (answer.status === 200) {
        state = answer.json;
        clockOffset = state.now - Date.now();
        $('key-form').hidden = true;
        render();
        setLive('live', 'live');
        schedule(POLL_MS);
      } else if (answer.status === 401) {
        askForKey(clientKey() ? 'That key is not one this serve accepts: enter a client key.' : 'This serve needs a client key (one of its QWENAUTH_API_KEYS) to show its accounts.');
        setLive('needs a client key', 'bad');
      } else {
        setLive('error ' + answer.status + ': ' + errorText(answer), 'bad');
        schedule(RETRY_MS);
      }
    }, function () {
      polling = false;
      setLive('cannot reach serve; retrying', 'bad');
      schedule(RETRY_MS);
    });
  }
  document.addEventListener('visibilitychange', function () { if (!document.hidden) schedule(0); });

  function setLive(text, kind) {
    $('live-text').textContent = text;
    $('live-dot').className = 'dot ' + kind;
  }
  function errorText(answer) {
    return (answer.json && answer.json.error && answer.json.error.message) || 'no message';
  }

  // ---- the client key ----
  function askForKey(why) {
    $('key-why').textContent = why;
    $('key-form').hidden = false;
    $('key-input').focus();
  }
  $('key-toggle').addEventListener('click', function () {
    var form = $('key-form');
    if (form.hidden) askForKey(clientKey() ? 'A client key is set for this tab.' : 'Enter a client key to act on the accounts.');
    else form.hidden = true;
  });
  $('key-form').addEventListener('submit', function (event) {
    event.preventDefault();
    setClientKey($('key-input').value.trim());
    $('key-input').value = '';
    schedule(0);
  });
  $('key-forget').addEventListener('click', function () {
    setClientKey('');
    $('key-input').value = '';
    schedule(0);
  });

  // ---- rendering ----
  function serverNow() { return Date.now() + clockOffset; }

  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h' + (m < 10 ? '0' : '') + m + 'm';
    return m + ':' + (sec < 10 ? '0' : '') + sec;
  }
  function count(n) { return typeof n === 'number' ? n.toLocaleString() : '0'; }
  function statusText(status) { return String(status).replace('-', ' '); }

  function render() {
    $('version').textContent = 'serve ' + state.version;
    $('strategy').textContent = state.strategy;
    $('rpm').textContent = count(state.requestsPerMinute);
    var byStatus = {};
    state.accounts.forEach(function (a) { byStatus[a.status] = (byStatus[a.status] || 0) + 1; });
    $('summary').textContent = state.accounts.length === 0 ? 'none' : Object.keys(byStatus).map(function (s) { return byStatus[s] + ' ' + statusText(s); }).join(' · ');
    $('read-only').hidden = state.canAct;
    $('read-only').textContent = state.readOnly || '';
    $('add').hidden = !state.canAct;
    if (state.canAct && !providersFilled) fillProviders();
    renderAccounts();
    renderRecent();
    tick();
  }

  function renderAccounts() {
    var container = $('accounts');
    var seen = {};
    state.accounts.forEach(function (view, index) {
      seen[view.id] = true;
      var card = cards[view.id] || (cards[view.id] = makeCard(view.id));
      fillCard(card, view, index);
      container.appendChild(card.root); // appending an existing node moves it: pool order
    });
    Object.keys(cards).forEach(function (id) {
      if (!seen[id]) { cards[id].root.remove(); delete cards[id]; }
    });
    $('no-accounts').hidden = state.accounts.length > 0;
  }

  function makeCard(id) {
    var root = $('card-template').content.firstElementChild.cloneNode(true);
    root.dataset.account = id;
    var card = { root: root, view: null };
    ['pos', 'label', 'id', 'status', 'kind', 'provider', 'cred-name', 'cred', 'cooldown-row', 'cooldown', 'requests', 'failures', 'tokens', 'usage', 'error', 'actions']
      .forEach(function (name) { card[name] = root.querySelector('.' + name); });
    return card;
  }

  function fillCard(card, view, index) {
    card.view = view;
    card.root.classList.toggle('active', view.active);
    card.pos.textContent = '#' + (index + 1);
    card.label.textContent = view.label;
    card.id.textContent = view.id + (view.active ? ' · active' : '');
    card.status.textContent = statusText(view.status);
    card.status.className = 'badge status ' + view.status;
    card.kind.textContent = view.kind === 'qwen-oauth' ? 'Qwen OAuth' : 'API key';
    card.provider.textContent = view.provider;
    card['cred-name'].textContent = view.kind === 'qwen-oauth' ? 'Token expires in' : 'Key';
    if (view.kind !== 'qwen-oauth') card.cred.textContent = 'key ' + (view.keyHint || '');
    var stats = view.stats || {};
    card.requests.textContent = count(stats.requests);
    card.failures.textContent = count(stats.failures);
    card.tokens.textContent = count(stats.promptTokens) + ' / ' + count(stats.completionTokens);
    var error = view.lastError || (stats.lastError && stats.lastError.message) || '';
    card.error.textContent = error ? 'Last error: ' + error : '';
    fillUsage(card, Array.isArray(view.usage) ? view.usage : []);
    card.actions.hidden = !state.canAct;
    card.actions.querySelector('[data-action="activate"]').disabled = view.active;
  }

  // Usage against a plan's limits, when the view carries it; nothing otherwise.
  function fillUsage(card, usage) {
    var box = card.usage;
    while (box.firstChild) box.removeChild(box.firstChild);
    usage.forEach(function (u) {
      if (!u || typeof u.window !== 'string' || typeof u.used !== 'number') return;
      var row = $('usage-template').content.firstElementChild.cloneNode(true);
      row.querySelector('.window').textContent = u.window;
      var meter = row.querySelector('meter');
      var limited = typeof u.limit === 'number' && u.limit > 0;
      meter.max = limited ? u.limit : 1;
      meter.value = limited ? Math.min(u.used, u.limit) : 0;
      meter.high = limited ? u.limit * 0.8 : 1;
      meter.hidden = !limited;
      row.querySelector('.amount').textContent = count(u.used) + (limited ? ' / ' + count(u.limit) : ' used');
      var reset = row.querySelector('.reset');
      reset.dataset.resetsAt = typeof u.resetsAt === 'number' ? String(u.resetsAt) : '';
      box.appendChild(row);
    });
  }

  // Countdowns run on the server's clock, every second, between polls too.
  function tick() {
    var now = serverNow();
    if (state) $('uptime').textContent = duration(now - state.startedAt);
    Object.keys(cards).forEach(function (id) {
      var card = cards[id], view = card.view;
      var cooling = view.status === 'cooling-down' && typeof view.cooldownUntil === 'number';
      card['cooldown-row'].hidden = !cooling;
      card.cooldown.textContent = cooling ? duration(view.cooldownUntil - now) : '';
      if (view.kind === 'qwen-oauth') card.cred.textContent = typeof view.expiresAt === 'number' ? (view.expiresAt > now ? duration(view.expiresAt - now) : 'expired; refreshed on use') : '–';
      Array.prototype.forEach.call(card.usage.querySelectorAll('.reset'), function (reset) {
        var at = Number(reset.dataset.resetsAt);
        reset.textContent = reset.dataset.resetsAt ? (at > now ? 'resets in ' + duration(at - now) : 'resets now') : '';
      });
    });
  }
  setInterval(tick, 1000);

  function renderRecent() {
    var body = $('recent').tBodies[0];
    var rows = state.recent.map(function (r) {
      var tr = document.createElement('tr');
      var cells = [
        new Date(r.at).toLocaleTimeString([], { hour12: false }),
        r.method + ' ' + r.route,
        r.protocol,
        r.account || '–',
        String(r.status),
        r.durationMs + ' ms',
        r.promptTokens || r.completionTokens ? count(r.promptTokens) + ' / ' + count(r.completionTokens) : '–',
      ];
      cells.forEach(function (text, i) {
        var td = document.createElement('td');
        td.textContent = text;
        if (i >= 5) td.className = 'num';
        if (i === 4) td.className = 's' + String(r.status).charAt(0);
        tr.appendChild(td);
      });
      return tr;
    });
    while (body.firstChild) body.removeChild(body.firstChild);
    rows.forEach(function (tr) { body.appendChild(tr); });
    $('no-recent').hidden = rows.length > 0;
  }

  // ---- actions ----
  function notice(text, ok) {
    var p = $('notice');
    p.textContent = text;
    p.className = 'notice ' + (ok ? 'ok' : 'bad');
    p.hidden = false;
  }
  function act(path, body, button) {
    if (button) button.disabled = true;
    return request(path, body).then(function (answer) {
      if (answer.status === 200) notice(answer.json.message, true);
      else if (answer.status === 401) askForKey('Actions need a client key: ' + errorText(answer));
      else notice(errorText(answer), false);
      // Show what the action changed at once (a click is not a poll: at most one more request).
      schedule(0);
      return answer.status === 200;
    }, function () {
      notice('cannot reach serve', false);
      return false;
    }).then(function (ok) {
      if (button) button.disabled = false;
      return ok;
    });
  }

  $('accounts').addEventListener('click', function (event) {
    var button = event.target.closest('button[data-action]');
    if (!button) return;
    var id = button.closest('.card').dataset.account;
    var action = button.dataset.action;
    // Removing is final: the first press arms the button, the second (within 4 s) removes.
    if (action === 'remove' && !button.classList.contains('armed')) {
      button.classList.add('armed');
      button.textContent = 'Press again to remove';
      setTimeout(function () { button.classList.remove('armed'); button.textContent = 'Remove'; }, ARM_MS);
      return;
    }
    act('ui/' + action, { account: id }, button);
  });

  function fillProviders() {
    var select = $('add-provider');
    state.providers.forEach(function (p) {
      var option = document.createElement('option');
      option.value = p.name;
      option.textContent = p.title + ' (' + p.name + ')';
      select.appendChild(option);
    });
    var custom = document.createElement('option');
    custom.value = '';
    custom.textContent = 'Another OpenAI-compatible API (base URL)';
    select.appendChild(custom);
    providersFilled = true;
  }
  $('add-provider').addEventListener('change', function () {
    $('add-url-label').hidden = $('add-provider').value !== '';
  });
  $('add-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var keyInput = $('add-key');
    var body = {
      provider: $('add-provider').value || $('add-url').value.trim(),
      apiKey: keyInput.value.trim(),
      label: $('add-label').value.trim(),
    };
    // The key leaves the page once, in this request; the field never holds it afterwards.
    keyInput.value = '';
    act('ui/add-key', body, $('add-submit')).then(function (ok) {
      if (ok) $('add-label').value = '';
    });
  });

  schedule(0);
})();
