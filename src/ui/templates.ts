/**
 * The journal page's templates (Liquid, rendered on the server) and its style sheet. Every
 * `{{ value }}` is HTML-escaped by the engine (outputEscape: 'escape'); nothing is marked raw
 * but the rendered page inside the layout. No script: the pages work without JavaScript, and
 * the Content-Security-Policy allows none.
 */
export const TEMPLATES: Record<string, string> = {
  layout: `<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{% block title %}{{ t.title }}{% endblock %}</title>
<link rel="stylesheet" href="/ui/style.css">
</head>
<body>
<header>
  <a class="brand" href="/ui">{{ t.title }}</a>
  {% if loggedIn %}<form method="post" action="/ui/logout"><button type="submit" class="link">{{ t.log_out }}</button></form>{% endif %}
</header>
<main>
{% block content %}{% endblock %}
</main>
</body>
</html>
`,

  login: `{% layout 'layout' %}
{% block title %}{{ t.login_title }} · {{ t.title }}{% endblock %}
{% block content %}
<h1>{{ t.login_title }}</h1>
{% if problem %}<p class="problem" role="alert">{{ problem }}</p>{% endif %}
{% if off %}{% else %}
<form class="login" method="post" action="/ui/login">
  <p>{{ t.login_hint }}</p>
  <label for="token">{{ t.token }}</label>
  <input id="token" type="password" name="token" autocomplete="current-password" required autofocus>
  <button type="submit">{{ t.log_in }}</button>
</form>
{% endif %}
{% endblock %}
`,

  list: `{% layout 'layout' %}
{% block content %}
<h1>{{ t.runs }}</h1>
<form class="filters" method="get" action="/ui">
  <label>{{ t.pipeline }}
    <select name="pipeline"><option value="">{{ t.all }}</option>
    {%- for p in pipelines %}<option value="{{ p }}"{% if p == filter.pipeline %} selected{% endif %}>{{ p }}</option>{% endfor %}</select></label>
  <label>{{ t.status }}
    <select name="status"><option value="">{{ t.all }}</option>
    {%- for s in statuses %}<option value="{{ s.value }}"{% if s.value == filter.status %} selected{% endif %}>{{ s.word }}</option>{% endfor %}</select></label>
  <label>{{ t.from }} <input type="date" name="from" value="{{ filter.from }}"></label>
  <label>{{ t.to }} <input type="date" name="to" value="{{ filter.to }}"></label>
  <label class="q">{{ t.search }} <input type="search" name="q" value="{{ filter.q }}" placeholder="{{ t.search_hint }}"></label>
  <span class="actions"><button type="submit">{{ t.find }}</button> <a href="/ui">{{ t.reset }}</a></span>
</form>
{% if problem %}<p class="problem" role="alert">{{ problem }}</p>{% endif %}
<p class="note">{{ t.times_in | fill: timeZone }}</p>
{% if runs.size == 0 %}
<p class="empty">{% if filtered %}{{ t.none_found }}{% else %}{{ t.none }}{% endif %}</p>
{% else %}
<table class="runs">
<thead><tr><th>{{ t.time }}</th><th>{{ t.pipeline }}</th><th>{{ t.status }}</th><th>{{ t.duration }}</th><th>{{ t.error }}</th></tr></thead>
<tbody>
{%- for run in runs %}
<tr>
  <td data-label="{{ t.time }}"><a href="{{ run.href }}">{{ run.time }}</a></td>
  <td data-label="{{ t.pipeline }}">{{ run.pipeline }}</td>
  <td data-label="{{ t.status }}"><span class="status s-{{ run.status }}">{{ run.word }}</span></td>
  <td data-label="{{ t.duration }}">{{ run.duration }}</td>
  <td data-label="{{ t.error }}" class="error">{{ run.error }}</td>
</tr>
{%- endfor %}
</tbody>
</table>
{% endif %}
<nav class="pages">
  {% if newestHref %}<a href="{{ newestHref }}">{{ t.newest }}</a>{% endif %}
  {% if olderHref %}<a href="{{ olderHref }}" rel="next">{{ t.older }}</a>{% endif %}
</nav>
{% endblock %}
`,

  run: `{% layout 'layout' %}
{% block title %}{{ t.run }} {{ run.id }} · {{ t.title }}{% endblock %}
{% block content %}
<p><a href="/ui">{{ t.back }}</a></p>
{% if problem %}<p class="problem" role="alert">{{ problem }}</p>{% else %}
<h1>{{ t.run }} <code>{{ run.id }}</code></h1>
<table class="facts">
  <tr><th>{{ t.pipeline }}</th><td>{{ run.pipeline }}</td></tr>
  <tr><th>{{ t.status }}</th><td><span class="status s-{{ run.status }}">{{ run.word }}</span></td></tr>
  <tr><th>{{ t.received }}</th><td>{{ run.received }}</td></tr>
  {% if run.finished %}<tr><th>{{ t.finished }}</th><td>{{ run.finished }}</td></tr>{% endif %}
  {% if run.duration %}<tr><th>{{ t.duration }}</th><td>{{ run.duration }}</td></tr>{% endif %}
  {% if run.error %}<tr><th>{{ t.error }}</th><td class="error">{{ run.error }}</td></tr>{% endif %}
  {% if run.replay_of %}<tr><th>{{ t.replay_of }}</th><td><a href="{{ run.replay_of.href }}">{{ run.replay_of.id }}</a></td></tr>{% endif %}
  {% if run.replays.size > 0 %}<tr><th>{{ t.replays }}</th><td>{% for r in run.replays %}<a href="{{ r.href }}">{{ r.id }}</a>{% unless forloop.last %}<br>{% endunless %}{% endfor %}</td></tr>{% endif %}
  {% if run.duplicate_of %}<tr><th>{{ t.duplicate_of }}</th><td><a href="{{ run.duplicate_of.href }}">{{ run.duplicate_of.id }}</a></td></tr>{% endif %}
  {% if run.duplicates.size > 0 %}<tr><th>{{ t.duplicates }}</th><td>{% for r in run.duplicates %}<a href="{{ r.href }}">{{ r.id }}</a>{% unless forloop.last %}<br>{% endunless %}{% endfor %}</td></tr>{% endif %}
</table>
{% if run.warnings.size > 0 %}<h2>{{ t.warnings }}</h2><ul>{% for w in run.warnings %}<li>{{ w }}</li>{% endfor %}</ul>{% endif %}

<h2>{{ t.request }}</h2>
<p><code>{{ run.request.method }} {{ run.request.path }}</code></p>
{% if run.request.line %}<pre>{{ run.request.line }}</pre>{% endif %}
{% if run.request.query %}<h3>{{ t.query }}</h3><pre>{{ run.request.query }}</pre>{% endif %}
{% if run.request.headers.size > 0 %}<h3>{{ t.headers }}</h3>
<table class="headers">{% for h in run.request.headers %}<tr><th>{{ h.name }}</th><td>{{ h.value }}</td></tr>{% endfor %}</table>{% endif %}
{% if run.request.body %}<h3>{{ t.body }}</h3><pre class="body">{{ run.request.body }}</pre>{% endif %}

<h2>{{ t.steps }}</h2>
{% if run.steps.size == 0 %}<p>{{ t.no_steps }}</p>{% endif %}
{% for step in run.steps %}
<section class="step">
  <h3>{{ forloop.index }}. <code>{{ step.id }}</code> · {{ step.type }} · <span class="status s-{{ step.status }}">{{ step.word }}</span>{% if step.duration %} · {{ step.duration }}{% endif %}</h3>
  {% if step.error %}<p class="error">{{ step.error }}</p>{% endif %}
  {% if step.request %}<h4>{{ t.request }}</h4><pre>{{ step.request }}</pre>{% endif %}
  {% if step.response %}<h4>{{ t.response }}</h4><pre>{{ step.response }}</pre>{% endif %}
  {% if step.output %}<h4>{{ t.output }}</h4><pre>{{ step.output }}</pre>{% endif %}
</section>
{% endfor %}

{% if run.answer %}<h2>{{ t.answer }}</h2><pre>{{ run.answer }}</pre>{% endif %}

<h2>{{ t.replay }}</h2>
<p>{{ t.replay_hint }}</p>
<pre class="command">{{ run.replayCommand }}</pre>
<p class="note">{{ t.masked }} {{ t.times_in | fill: timeZone }}</p>
{% endif %}
{% endblock %}
`,
}

export const STYLE = `:root { color-scheme: light; --ok: #1a7f37; --failed: #c62828; --running: #1565c0; --rejected: #b45309; --muted: #5f6b7a; --line: #d8dee4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #f6f8fa; }
header { display: flex; justify-content: space-between; align-items: center; padding: .6rem 1rem; background: #24292f; }
header a.brand { color: #fff; font-weight: 600; text-decoration: none; }
header form { margin: 0; }
button.link { background: none; border: 0; color: #fff; text-decoration: underline; cursor: pointer; font: inherit; padding: 0; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
h4 { font-size: .9rem; margin: .6rem 0 .2rem; color: var(--muted); }
a { color: #0969da; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: .3rem 0; }
pre.command { background: #24292f; color: #fff; user-select: all; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem 1rem; align-items: flex-end; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem; }
.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); gap: .2rem; }
.filters label.q { flex: 1 1 16rem; }
input, select, button { font: inherit; padding: .35rem .5rem; border: 1px solid #afb8c1; border-radius: 6px; background: #fff; color: #1f2328; }
button { background: #1f883d; color: #fff; border-color: #1a7f37; cursor: pointer; }
.actions { display: flex; gap: .6rem; align-items: center; }
.login { display: flex; flex-direction: column; gap: .5rem; max-width: 24rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1rem; }
.problem { background: #ffebe9; border: 1px solid #ff8182; border-radius: 6px; padding: .6rem .8rem; color: #82071e; }
.note { color: var(--muted); font-size: .85rem; }
.empty { color: var(--muted); }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.runs td.error { color: var(--failed); max-width: 28rem; overflow-wrap: anywhere; }
table.facts th, table.headers th { width: 12rem; color: var(--muted); font-weight: 500; }
table.headers td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
.status { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .85rem; color: #fff; background: var(--muted); white-space: nowrap; }
.s-ok { background: var(--ok); }
.s-failed { background: var(--failed); }
.s-running { background: var(--running); }
.s-rejected { background: var(--rejected); }
.s-interrupted { background: #8250df; }
.error { color: var(--failed); }
.step { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .2rem .8rem .6rem; margin: .6rem 0; }
.pages { display: flex; justify-content: space-between; margin: 1rem 0; }
@media (max-width: 700px) {
  table.runs thead { display: none; }
  table.runs tr { display: block; border-bottom: 2px solid var(--line); padding: .3rem 0; }
  table.runs td { display: flex; gap: .6rem; border: 0; padding: .15rem .4rem; }
  table.runs td::before { content: attr(data-label); color: var(--muted); min-width: 6.5rem; }
  table.runs td.error:empty { display: none; }
  table.facts th { width: 8rem; }
}
`
