// The dashboard: plain JavaScript over the gateway's own API, charts by Chart.js (served
// by the gateway, no CDN). Each kind of call polls on its own (poller below). window.dashboard
// exposes the charts and the data they were drawn from, for the end-to-end test.
/* global Chart */
'use strict'

const REFRESH_MS = 5000
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563']
const state = { model: null, charts: {}, data: {} }
window.dashboard = state

const $ = (id) => document.getElementById(id)
const TOKEN_KEY = 'switchyard-token'

/** The API needs a viewer token: kept in this browser's localStorage, asked for on a 401 or 403. */
const getJson = async (path) => {
  const token = localStorage.getItem(TOKEN_KEY)
  const res = await fetch(path, token ? { headers: { authorization: `Bearer ${token}` } } : {})
  if (res.status === 401 || res.status === 403) {
    askForToken((await res.json()).error)
    throw new Error('a token is needed')
  }
  if (!res.ok) throw new Error(`${path}: ${res.status}`)
  return res.json()
}

function askForToken(message) {
  $('login-message').textContent = message
  $('login').hidden = false
  $('login').onsubmit = (e) => {
    e.preventDefault()
    localStorage.setItem(TOKEN_KEY, $('token').value.trim())
    $('login').hidden = true
    loadModels().then(refreshAll).catch(quiet)
  }
}
const fmt = (v, digits = 3) => (v === null || v === undefined ? '–' : Number(v).toFixed(digits))
const pct = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`)
const withCi = (e, digits = 3) => (e ? `${fmt(e.value, digits)} [${fmt(e.ci95?.[0], digits)}, ${fmt(e.ci95?.[1], digits)}]` : '–')
const colorOf = (name, names) => COLORS[names.indexOf(name) % COLORS.length]

function chart(id, config) {
  const existing = state.charts[id]
  if (existing) {
    existing.data = config.data
    existing.update('none')
    return existing
  }
  state.charts[id] = new Chart($(id), { ...config, options: { animation: false, responsive: true, maintainAspectRatio: true, aspectRatio: 2.2, ...config.options } })
  return state.charts[id]
}

async function loadModels() {
  const config = await (await fetch('/dashboard/config.json')).json()
  if (config.auth && !localStorage.getItem(TOKEN_KEY)) {
    askForToken('The API needs a token with the viewer role (or above).')
    throw new Error('a token is needed')
  }
  const { models } = await getJson('/v1/models')
  const select = $('model')
  select.innerHTML = models.map((m) => `<option>${m.name}</option>`).join('')
  const wanted = new URLSearchParams(location.search).get('model')
  state.model = models.some((m) => m.name === wanted) ? wanted : models[0]?.name ?? null
  select.value = state.model
  select.onchange = () => {
    state.model = select.value
    history.replaceState(null, '', `?model=${encodeURIComponent(state.model)}`)
    askAgain(['compare', 'series'])
    // the same answers, shown for the new model
    if (state.data.routes) KINDS.routes.draw(state.data.routes)
    if (state.data.activity) KINDS.activity.draw(state.data.activity)
  }
  $('window').onchange = () => askAgain(['compare', 'series'])
}

/** What the per-model calls ask now: the model and the window, with `since` counted back from now. */
function question() {
  const windowS = Number($('window').value)
  return { key: `${state.model} ${windowS}`, model: encodeURIComponent(state.model), since: new Date(Date.now() - windowS * 1000).toISOString(), windowS }
}

/** Each kind of call the page polls, and what it draws; `isPerModel`: asked for the model and window shown. */
const KINDS = {
  compare: { isPerModel: true, load: (q) => getJson(`/v1/models/${q.model}/compare?since=${q.since}`), draw: (d) => { drawLatency(d); drawScores(d); drawTable(d) } },
  series: {
    isPerModel: true,
    load: (q) => getJson(`/v1/models/${q.model}/timeseries?since=${q.since}&bucket_seconds=${Math.max(1, Math.round(q.windowS / 60))}`),
    draw: (d) => { drawTraffic(d); drawErrors(d) },
  },
  routes: { load: () => getJson('/admin/routes'), draw: (d) => { drawRoutes(d); $('revision').textContent = `routes revision ${d.revision.number}` } },
  activity: { load: () => getJson('/v1/activity?limit=50').catch(() => ({ activity: [] })), draw: (d) => drawActivity(d.activity) }, // none without a store
}

/**
 * One poller a kind of call: the next call goes REFRESH_MS after the last one answered or
 * failed, so this page never has two calls of one kind out. Issue #13: on a fixed 5 s timer the
 * calls piled up behind a slow comparison, and the page, which waited for all four, stayed blank.
 * `run()` while a call is out asks again as soon as it answers; an answer to an earlier
 * question (another model or window) is not drawn.
 */
function poller(kind) {
  let isOut = false
  let isAskedAgain = false
  let timer = null
  const run = async () => {
    clearTimeout(timer)
    timer = null
    if (isOut) {
      isAskedAgain = true
      return
    }
    isOut = true
    const q = question()
    try {
      const data = await KINDS[kind].load(q)
      if (!KINDS[kind].isPerModel || question().key === q.key) {
        state.data[kind] = data
        KINDS[kind].draw(data)
        showLoaded(kind)
      }
    } catch (err) {
      showFailed(kind, err)
    } finally {
      isOut = false
      if (isAskedAgain) {
        isAskedAgain = false
        run()
      } else {
        timer = setTimeout(run, REFRESH_MS)
      }
    }
  }
  return run
}

const pollers = {}

/** Start the pollers, or ask them all now (after a token was given). */
function refreshAll() {
  if (state.model === null) return
  for (const kind of Object.keys(KINDS)) (pollers[kind] ??= poller(kind))()
}

/** The model or the window changed: say so where those answers are drawn, and ask now. */
function askAgain(kinds) {
  for (const kind of kinds) {
    notesOf(kind).forEach((note) => {
      note.textContent = 'loading…'
      note.hidden = false
    })
    pollers[kind]?.()
  }
}

/** The "loading…" notes in the sections a kind of call draws (index.html). */
const notesOf = (kind) => document.querySelectorAll(`.loading[data-kind="${kind}"]`)

function showLoaded(kind) {
  notesOf(kind).forEach((note) => (note.hidden = true))
  $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`
  if (Object.keys(KINDS).every((k) => state.data[k] !== undefined)) document.body.dataset.ready = 'true'
}

function showFailed(kind, err) {
  quiet(err)
  if (err.message === 'a token is needed') return
  notesOf(kind).forEach((note) => {
    note.textContent = `could not load (${err.message}); trying again`
    note.hidden = false
  })
}

function times(series) {
  return [...new Set(series.points.map((p) => p.t))].sort((a, b) => a - b)
}

function drawTraffic(series) {
  const ts = times(series)
  const primary = series.points.filter((p) => p.role === 'primary')
  const versions = [...new Set(primary.map((p) => p.version))].sort()
  const totals = new Map(ts.map((t) => [t, primary.filter((p) => p.t === t).reduce((n, p) => n + p.requests, 0)]))
  chart('traffic-chart', {
    type: 'line',
    data: {
      labels: ts.map((t) => new Date(t).toLocaleTimeString()),
      datasets: versions.map((v) => ({
        label: v,
        data: ts.map((t) => {
          const n = primary.find((p) => p.t === t && p.version === v)?.requests ?? 0
          return totals.get(t) ? (100 * n) / totals.get(t) : 0
        }),
        borderColor: colorOf(v, versions), backgroundColor: colorOf(v, versions), fill: false, tension: 0.2,
      })),
    },
    options: { scales: { y: { min: 0, max: 100, title: { display: true, text: '% of primary answers' } } } },
  })
}

function drawErrors(series) {
  const ts = times(series)
  const keys = [...new Set(series.points.map((p) => `${p.version} ${p.role}`))].sort()
  chart('error-chart', {
    type: 'line',
    data: {
      labels: ts.map((t) => new Date(t).toLocaleTimeString()),
      datasets: keys.map((k) => ({
        label: k,
        data: ts.map((t) => {
          const p = series.points.find((x) => x.t === t && `${x.version} ${x.role}` === k)
          return p && p.requests ? (100 * p.errors) / p.requests : 0
        }),
        borderColor: colorOf(k, keys), backgroundColor: colorOf(k, keys), tension: 0.2,
      })),
    },
    options: { scales: { y: { min: 0, title: { display: true, text: '% errors' } } } },
  })
}

function drawLatency(compare) {
  const rows = compare.versions
  chart('latency-chart', {
    type: 'bar',
    data: {
      labels: rows.map((r) => `${r.version} ${r.role}`),
      datasets: ['p50', 'p95', 'p99'].map((q, i) => ({ label: q, data: rows.map((r) => r.latency_ms[q]), backgroundColor: COLORS[i] })),
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'ms' } } } },
  })
}

function drawScores(compare) {
  const rows = compare.versions.filter((r) => r.predictions.scored > 0)
  const keys = rows.map((r) => `${r.version} ${r.role}`)
  const bins = rows[0]?.predictions.score_histogram.length ?? 10
  chart('score-chart', {
    type: 'line',
    data: {
      labels: Array.from({ length: bins }, (_, i) => `${(i / bins).toFixed(1)}–${((i + 1) / bins).toFixed(1)}`),
      datasets: rows.map((r, i) => {
        const total = r.predictions.score_histogram.reduce((a, b) => a + b, 0) || 1
        return { label: keys[i], data: r.predictions.score_histogram.map((n) => (100 * n) / total), borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], tension: 0.2 }
      }),
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: '% of scored answers' } } } },
  })
}

function drawTable(compare) {
  $('versions').querySelector('tbody').innerHTML = compare.versions.map((r) => {
    const gt = r.ground_truth
    const share = r.traffic_share === null ? '–' : `${pct(r.traffic_share)} / ${r.configured_weight ?? '–'}%`
    return `<tr data-version="${r.version}" data-role="${r.role}">
      <td>${r.version}</td><td>${r.role}</td><td>${r.requests}</td><td>${share}</td><td>${pct(r.error_rate)}</td>
      <td>${fmt(r.latency_ms.p99, 2)}</td><td>${fmt(r.predictions.mean_score)}</td><td>${gt?.count ?? 0}</td>
      <td class="ci">${withCi(gt?.accuracy)}</td><td class="ci">${withCi(gt?.auc)}</td><td class="ci">${withCi(gt?.log_loss)}</td>
      <td>${r.agreement_with_primary ? pct(r.agreement_with_primary.rate) : '–'}</td></tr>`
  }).join('')
  const s = compare.significance
  $('significance').textContent = s && s.p_value !== null ? `${s.metric}: ${s.a} − ${s.b} = ${fmt(s.difference)} (p = ${fmt(s.p_value, 4)}, ${s.significant ? 'significant' : 'not significant'})` : ''
}

function drawRoutes(routes) {
  const route = routes.routes[state.model]
  $('route-config').textContent = route ? JSON.stringify(route.config, null, 2) : `no route for ${state.model}: its newest ready version answers`
  const canary = route?.canary
  $('canary').innerHTML = canary
    ? `canary ${canary.baseline} → ${canary.candidate}: <span class="${canary.status}">${canary.status}</span>, ${canary.percent}% to the candidate (step ${canary.step + 1} of ${canary.steps.length})`
    : ''
}

function drawActivity(entries) {
  const model = state.model
  $('activity').innerHTML = entries
    .filter((e) => e.model === null || e.model === model)
    .slice(0, 30)
    .map((e) => `<li><time>${new Date(e.at).toLocaleString()}</time> <b>${e.actor}</b> ${e.kind}${e.version ? ` ${e.version}` : ''}` +
      `${e.detail?.to ? ` → ${e.detail.to}` : ''}${e.comment ? ` — ${escapeHtml(e.comment)}` : ''}</li>`)
    .join('')
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}

const quiet = (err) => {
  if (err.message !== 'a token is needed') console.error(err)
}
loadModels().then(refreshAll).catch(quiet)
