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

/**
 * The API needs a viewer token: kept in this browser's localStorage, asked for on a 401 or 403.
 * `isAbsentOk`: a 404 answers null (a version without reference data has no drift).
 */
const getJson = async (path, isAbsentOk = false) => {
  const token = localStorage.getItem(TOKEN_KEY)
  const res = await fetch(path, token ? { headers: { authorization: `Bearer ${token}` } } : {})
  if (res.status === 401 || res.status === 403) {
    askForToken((await res.json()).error)
    throw new Error('a token is needed')
  }
  if (res.status === 404 && isAbsentOk) return null
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
    $('drift-version').innerHTML = ''
    askAgain(['compare', 'series', 'drift', 'versions'])
    // the same answers, shown for the new model
    if (state.data.routes) KINDS.routes.draw(state.data.routes)
    if (state.data.activity) KINDS.activity.draw(state.data.activity)
  }
  $('window').onchange = () => askAgain(['compare', 'series', 'drift'])
  $('drift-version').onchange = () => askAgain(['drift'])
}

/** What the per-model calls ask now: the model, the window with `since` counted back from now, drift's version. */
function question() {
  const windowS = Number($('window').value)
  const driftVersion = $('drift-version').value || watchedPair()?.[0]?.split(':')[0] || null
  return { key: `${state.model} ${windowS}`, model: encodeURIComponent(state.model), since: new Date(Date.now() - windowS * 1000).toISOString(), windowS, driftVersion }
}

/**
 * The two versions the route in force puts side by side, as the comparison names them: a
 * canary's baseline and candidate, a champion and its first challenger, a split's two largest
 * shares; the first alone where there is no second; null without a route.
 */
function watchedPair() {
  const config = state.data.routes?.routes[state.model]?.config
  if (!config) return null
  if (config.canary) return [config.canary.baseline, config.canary.candidate]
  if (config.champion) {
    const challenger = Object.keys(config.challengers ?? {})[0]
    return challenger ? [config.champion, `${challenger}:challenger`] : [config.champion]
  }
  const bySize = Object.entries(config.split ?? {}).sort(([, a], [, b]) => b - a).map(([v]) => v)
  return bySize.length > 0 ? bySize.slice(0, 2) : null
}

/**
 * Resolves once /admin/routes has answered (or failed) the first time: the comparison's
 * verdict and drift's version are read from the route in force (an in-memory answer, quick).
 */
let routesAnswered
const routesKnown = new Promise((resolve) => (routesAnswered = resolve))

/**
 * Each kind of call the page polls, and what it draws; `isPerModel`: asked for the model and
 * window shown (`keyOf`: and what else the answer depends on); `needsRoutes`: asked once the
 * route in force is known.
 */
const KINDS = {
  compare: {
    isPerModel: true,
    needsRoutes: true,
    load: (q) => {
      const pair = watchedPair()
      return getJson(`/v1/models/${q.model}/compare?since=${q.since}${pair?.length === 2 ? `&a=${encodeURIComponent(pair[0])}&b=${encodeURIComponent(pair[1])}` : ''}`)
    },
    draw: (d) => { drawLatency(d); drawScores(d); drawTable(d); drawVerdict(d) },
  },
  series: {
    isPerModel: true,
    load: (q) => getJson(`/v1/models/${q.model}/timeseries?since=${q.since}&bucket_seconds=${Math.max(1, Math.round(q.windowS / 60))}`),
    draw: (d) => { drawTraffic(d); drawLatencyOverTime(d); drawErrors(d) },
  },
  drift: {
    isPerModel: true,
    needsRoutes: true,
    keyOf: (q) => `${q.key} ${q.driftVersion}`,
    load: async (q) => ({
      version: q.driftVersion,
      drift: q.driftVersion === null ? null : await getJson(`/v1/models/${q.model}/drift?version=${encodeURIComponent(q.driftVersion)}&since=${q.since}`, true),
    }),
    draw: (d) => drawDrift(d.version, d.drift),
  },
  versions: { isPerModel: true, load: (q) => getJson(`/v1/models/${q.model}/versions`), draw: (d) => drawStages(d.versions) },
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
    if (KINDS[kind].needsRoutes) await routesKnown
    const q = question()
    try {
      const data = await KINDS[kind].load(q)
      const keyOf = KINDS[kind].keyOf ?? ((x) => x.key)
      if (!KINDS[kind].isPerModel || keyOf(question()) === keyOf(q)) {
        state.data[kind] = data
        KINDS[kind].draw(data)
        showLoaded(kind)
      }
    } catch (err) {
      showFailed(kind, err)
    } finally {
      if (kind === 'routes') routesAnswered()
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

/** A line a version and role over the series' buckets, each point `value(point)`; 0 where a bucket has none. */
function byVersionAndRole(series, value) {
  const ts = times(series)
  const keys = [...new Set(series.points.map((p) => `${p.version} ${p.role}`))].sort()
  return {
    labels: ts.map((t) => new Date(t).toLocaleTimeString()),
    datasets: keys.map((k) => ({
      label: k,
      data: ts.map((t) => {
        const p = series.points.find((x) => x.t === t && `${x.version} ${x.role}` === k)
        return p ? value(p) : 0
      }),
      borderColor: colorOf(k, keys), backgroundColor: colorOf(k, keys), tension: 0.2,
    })),
  }
}

function drawTraffic(series) {
  chart('traffic-chart', {
    type: 'line',
    data: byVersionAndRole(series, (p) => p.requests / series.bucket_seconds),
    options: { scales: { y: { min: 0, title: { display: true, text: 'requests a second' } } } },
  })
}

function drawLatencyOverTime(series) {
  chart('latency-time-chart', {
    type: 'line',
    data: byVersionAndRole(series, (p) => (p.requests ? p.latency_sum / p.requests : 0)),
    options: { scales: { y: { min: 0, title: { display: true, text: 'mean ms' } } } },
  })
}

function drawErrors(series) {
  chart('error-chart', {
    type: 'line',
    data: byVersionAndRole(series, (p) => (p.requests ? (100 * p.errors) / p.requests : 0)),
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

const METRIC_NAMES = { auc: 'AUC', accuracy: 'accuracy', log_loss: 'log loss', mae: 'MAE' }
const LOWER_IS_BETTER = ['log_loss', 'mae']

/** One line from the comparison's significance test: which of the two is better, or that neither is yet. */
function verdictOf(compare) {
  const s = compare.significance
  if (!s) return 'no verdict: the route in force puts no two versions side by side'
  const metric = METRIC_NAMES[s.metric] ?? s.metric
  if (s.p_value === null) return `no verdict yet on ${metric} between ${s.a} and ${s.b}: ${s.reason}`
  const name = (spec) => spec.replace(':', ' ')
  const p = s.p_value < 0.001 ? 'p < 0.001' : `p = ${Number(s.p_value.toPrecision(2))}`
  if (!s.significant) {
    const withTruth = (spec) => compare.versions.find((v) => `${v.version}:${v.role}` === spec)?.ground_truth?.count ?? 0
    return `no significant difference on ${metric} yet between ${name(s.a)} and ${name(s.b)} (${p}, n = ${withTruth(s.a)} and ${withTruth(s.b)} with ground truth)`
  }
  const isABetter = LOWER_IS_BETTER.includes(s.metric) ? s.difference < 0 : s.difference > 0
  const [better, worse] = isABetter ? [s.a, s.b] : [s.b, s.a]
  return `${name(better)} is better on ${metric} than ${name(worse)}, ${p}`
}

function drawVerdict(compare) {
  $('verdict').textContent = verdictOf(compare)
  $('verdict').className = compare.significance?.significant ? 'significant' : ''
}

/** PSI a feature (and the score) as bars, the flagged ones first and red; a note where the version has no reference. */
function drawDrift(version, drift) {
  const rows = drift === null ? [] : [...(drift.score ? [{ ...drift.score, feature: 'score' }] : []), ...drift.features]
    .map((r, i) => ({ r, i })).sort((x, y) => Number(y.r.flagged) - Number(x.r.flagged) || x.i - y.i).map((x) => x.r)
  if (version === null) $('drift-note').textContent = `no route in force for ${state.model}: choose a version`
  else if (drift === null) $('drift-note').textContent = `no reference data for this version (${version})`
  else {
    const flagged = rows.filter((r) => r.flagged).map((r) => r.feature)
    $('drift-note').textContent = `${version}, ${drift.n} inputs against its reference profile: ` +
      (flagged.length ? `${flagged.join(', ')} past PSI ${drift.thresholds.psi}` : `nothing past PSI ${drift.thresholds.psi}`)
  }
  $('drift-bars').hidden = rows.length === 0 // a wrapper: Chart.js sets the canvas's own display
  chart('drift-chart', {
    type: 'bar',
    data: {
      labels: rows.map((r) => r.feature),
      datasets: [{ label: 'PSI', data: rows.map((r) => r.psi), backgroundColor: rows.map((r) => (r.flagged ? COLORS[1] : COLORS[0])) }],
    },
    options: { aspectRatio: 4, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, title: { display: true, text: 'PSI' } } } },
  })
}

/** Each version's stage; drift's version is chosen among them. */
function drawStages(versions) {
  $('stages').innerHTML = versions.map((v) => `<li data-version="${escapeHtml(v.version)}"><b>${escapeHtml(v.version)}</b> ` +
    `<span class="stage ${escapeHtml(v.stage)}">${escapeHtml(v.stage)}</span>${v.label ? ` ${escapeHtml(v.label)}` : ''}${v.locked ? ' (locked)' : ''}</li>`).join('')
  const select = $('drift-version')
  const options = versions.map((v) => `<option>${escapeHtml(v.version)}</option>`).join('')
  if (select.innerHTML === options) return // rebuilt only when the versions change: an open list stays open
  const shown = question().driftVersion
  select.innerHTML = options
  if (shown !== null) select.value = shown
}

function drawRoutes(routes) {
  const route = routes.routes[state.model]
  $('route-config').textContent = route ? JSON.stringify(route.config, null, 2) : `no route for ${state.model}: its newest ready version answers`
  $('canary').innerHTML = route?.canary ? canaryTimeline(route.canary) : ''
}

/** The canary's steps (done, current, halted for want of traffic, rolled back, ahead) and its events in the order they happened. */
function canaryTimeline(c) {
  const stepClass = (i) => {
    if (i < c.step) return 'done'
    if (i > c.step) return 'ahead'
    return { complete: 'done', 'rolled-back': 'rolled-back', halted: 'halted' }[c.status] ?? 'current'
  }
  return `<p>canary ${escapeHtml(c.baseline)} → ${escapeHtml(c.candidate)}: <span class="${c.status}">${c.status}</span>, ` +
    `${c.percent}% to the candidate (step ${c.step + 1} of ${c.steps.length})</p>` +
    `<ol class="canary-steps">${c.steps.map((p, i) => `<li class="${stepClass(i)}">${p}%</li>`).join('')}</ol>` +
    `<ol class="canary-events">${c.events.map((e) => `<li data-kind="${e.kind}"><time datetime="${e.at}">${new Date(e.at).toLocaleTimeString()}</time> ` +
      `<b>${e.kind}</b> ${e.percent}%: ${escapeHtml(e.detail)}</li>`).join('')}</ol>`
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
