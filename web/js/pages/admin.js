// admin.html: the health authority's dashboard — the day's ranking of
// localities (table and bar chart), the risk-person CSV import with its
// per-line report, finding a person by ID number and a county's venues
// (admin-find.js), and contact tracing with a CSV download.
import { api } from '../api.js';
import { chunk, parseRiskCsv } from '../csv.js';
import { loadDivisions } from '../divisions.js';
import { CATEGORIES, COLORS, RISK_ROW_ERRORS, label } from '../labels.js';
import { requireSession } from '../session.js';
import { setupAppeals } from './admin-appeals.js';
import { loadMe } from '../subjects.js';
import { setupFind } from './admin-find.js';
import { $, busy, download, el, formatTime, frame, fromLocalInput, message, shanghaiDay, toCsv } from '../ui.js';

await requireSession();
frame(null);
const [divisions, user] = await Promise.all([loadDivisions(), loadMe()]);
frame(null);

// ---- rankings --------------------------------------------------------------

const SERIES = [
  ['claimed', '当日领码', '#1766d6'],
  ['scans', '验码', '#16a05d'],
  ['checkins', '场所登记', '#f08c00'],
];
const activity = (r) => r.claimed + r.scans + r.checkins;

function chart(rows, width) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = (tag, attrs, text) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  // The most active localities; the table lists them all.
  const shown = rows.filter((r) => activity(r) > 0).slice(0, 15);
  if (!shown.length) return el('p', { class: 'muted' }, '当日暂无数据');
  const max = Math.max(1, ...shown.map(activity));
  // As wide as its box, so that the text keeps its size on a phone.
  const W = Math.max(300, Math.min(960, width || 640)), LABEL = 120, NUMBER = 44, ROW = 26;
  const H = shown.length * ROW + 8;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': '领码用码排名柱状图' });
  shown.forEach((r, i) => {
    const y = 4 + i * ROW;
    root.append(svg('text', { x: LABEL - 8, y: y + 16, 'text-anchor': 'end', 'font-size': 13, fill: '#1f2329' }, `${r.rank}. ${r.name}`));
    let x = LABEL;
    for (const [key, name, color] of SERIES) {
      const w = (r[key] / max) * (W - LABEL - NUMBER);
      if (w > 0) {
        const bar = svg('rect', { x, y: y + 3, width: Math.max(w, 1), height: ROW - 8, fill: color, rx: 2 });
        bar.append(svg('title', {}, `${r.name} ${name} ${r[key]}`));
        root.append(bar);
      }
      x += w;
    }
    root.append(svg('text', { x: x + 6, y: y + 16, 'font-size': 12, fill: '#646a73' }, String(activity(r))));
  });
  return el('div', {},
    el('div', { class: 'legend' }, SERIES.map(([key, name]) => el('span', { class: key }, name))),
    root);
}

function setupRankings() {
  const form = $('#ranking-form');
  const box = $('.msg', $('#rankings'));
  const tbody = $('#ranking-table tbody');
  const showAll = $('#show-all');
  form.elements.date.value = shanghaiDay();
  let rows = [];
  const render = (all) => {
    const shown = all ? rows : rows.slice(0, 30);
    tbody.replaceChildren(
      ...shown.map((r) =>
        el('tr', { dataset: { region: r.region } },
          el('td', { class: 'num' }, String(r.rank)),
          el('td', {}, r.name),
          el('td', { class: 'num' }, String(r.claimed)),
          el('td', { class: 'num' }, String(r.claimed_total ?? '')),
          el('td', { class: 'num' }, String(r.scans)),
          el('td', { class: 'num' }, String(r.checkins)))),
    );
    showAll.hidden = all || rows.length <= 30;
  };
  showAll.addEventListener('click', () => render(true));
  const load = () =>
    busy(form, async () => {
      try {
        const answer = await api('GET', '/v1/admin/rankings', { query: { date: form.elements.date.value, level: form.elements.level.value } });
        rows = [...answer.rows].sort((a, b) => a.rank - b.rank || a.region.localeCompare(b.region));
        message(box, rows.some((r) => activity(r) > 0) ? null : `${answer.date} 暂无领码用码记录`, 'info');
        $('#chart').replaceChildren(chart(rows, $('#chart').clientWidth));
        render(false);
      } catch (err) {
        message(box, err);
      }
    });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  form.elements.level.addEventListener('change', load);
  load();
}

// ---- risk persons ----------------------------------------------------------

function setupRisk() {
  const form = $('#risk-form');
  const box = $('.msg', $('#risk'));
  const report = $('#risk-report');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    if (!file) return;
    busy(form, async () => {
      report.replaceChildren();
      const { records, problems } = parseRiskCsv(await file.text());
      let applied = 0;
      let unmatched = 0;
      let sent = 0;
      const chunks = chunk(records);
      for (const [n, part] of chunks.entries()) {
        message(box, `正在导入第 ${n + 1}/${chunks.length} 批…`, 'info');
        try {
          const answer = await api('POST', '/v1/admin/risk-persons', { body: { records: part.map((p) => p.record) } });
          applied += answer.applied;
          unmatched += answer.unmatched;
          // `index` is the position in this request's `records`.
          for (const e of answer.errors || []) problems.push({ line: part[e.index].line, reason: RISK_ROW_ERRORS[e.code] || e.code });
          sent += part.length;
        } catch (err) {
          const rest = chunks.slice(n).flat();
          problems.push({ line: rest[0].line, reason: `第 ${rest[0].line}–${rest[rest.length - 1].line} 行未导入：${err.message}` });
          break;
        }
      }
      problems.sort((a, b) => a.line - b.line);
      message(box, problems.length ? `导入完成，${problems.length} 行有误` : '导入完成', problems.length ? 'error' : 'ok');
      report.append(
        el('dl', { class: 'facts risk-summary' },
          el('dt', {}, '记录'), el('dd', {}, `${records.length} 条（已提交 ${sent} 条）`),
          el('dt', {}, '已生效'), el('dd', { class: 'applied' }, `${applied} 人`),
          el('dt', {}, '尚未注册'), el('dd', { class: 'unmatched' }, `${unmatched} 人（注册后生效）`),
          el('dt', {}, '有误'), el('dd', { class: 'refused' }, `${problems.length} 行`)),
        problems.length
          ? el('div', { class: 'table-wrap' }, el('table', { class: 'risk-errors' },
            el('thead', {}, el('tr', {}, el('th', { class: 'num' }, '行号'), el('th', {}, '原因'))),
            el('tbody', {}, problems.map((p) => el('tr', { dataset: { line: p.line } }, el('td', { class: 'num' }, String(p.line)), el('td', {}, p.reason))))))
          : null,
      );
      form.reset();
    });
  });
}

// ---- traces ----------------------------------------------------------------

function setupTrace() {
  const form = $('#trace-form');
  const box = $('.msg', $('#trace'));
  const out = $('#trace-result');
  const f = form.elements;
  const labelFor = () => { $('#trace-id-label').textContent = f.by.value === 'venue' ? '场所编号（v_…）' : '人员编号（s_…）'; };
  form.addEventListener('change', labelFor);

  const cell = (text, cls) => el('td', { class: cls }, text ?? '');
  const table = (head, rows, cls) =>
    el('div', { class: 'table-wrap' }, el('table', { class: cls }, el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, h)))), el('tbody', {}, rows)));

  async function all(query) {
    const pages = [];
    let next = null;
    for (let i = 0; i < 20; i++) {
      const page = await api('GET', '/v1/admin/traces', { query: { ...query, limit: 500, next } });
      pages.push(page);
      next = page.next;
      if (!next) break;
    }
    return { pages, more: Boolean(next) };
  }

  async function search(by, id) {
    // Empty times are the API's defaults: up to now, from 14 days before; a minute given as the end includes it.
    const query = { [by === 'venue' ? 'venue_id' : 'subject_id']: id, from: fromLocalInput(f.from.value), to: fromLocalInput(f.to.value, 59) };
    out.replaceChildren();
    message(box, '正在查询…', 'info');
    let result;
    try {
      result = await all(query);
    } catch (err) {
      message(box, err.status === 404 ? (by === 'venue' ? '未找到该场所' : '未找到该人员') : err);
      return;
    }
    message(box, result.more ? '记录过多，只显示前 10000 条；请缩小时间范围' : null, 'info');
    const stamp = formatTime(new Date()).replace(/[-: ]/g, '').slice(0, 12);
    if (by === 'venue') {
      const { venue } = result.pages[0];
      const entries = result.pages.flatMap((p) => p.entries);
      const csv = [['进入时间', '姓名', '身份证号', '手机号', '健康码', '人员编号'], ...entries.map((e) => [formatTime(e.entered_at), e.name, e.id_number, e.phone || '', COLORS[e.color], e.subject_id])];
      out.append(
        el('dl', { class: 'facts' },
          el('dt', {}, '场所'), el('dd', {}, venue.name),
          el('dt', {}, '地址'), el('dd', {}, `${divisions.fullName(venue.region)} ${venue.address}`),
          el('dt', {}, '类型'), el('dd', {}, label(CATEGORIES, venue.category)),
          venue.revoked_at ? [el('dt', {}, '作废时间'), el('dd', {}, formatTime(venue.revoked_at))] : null,
          el('dt', {}, '进入人次'), el('dd', { class: 'count' }, String(entries.length))),
        el('p', {}, el('button', { type: 'button', class: 'secondary', id: 'trace-csv', onclick: () => download(new Blob([toCsv(csv)], { type: 'text/csv' }), `流调-场所-${venue.id}-${stamp}.csv`) }, '下载 CSV')),
        table(['进入时间', '姓名', '身份证号', '手机号', '健康码', ''], entries.map((e) =>
          el('tr', {}, cell(formatTime(e.entered_at)), cell(e.name), cell(e.id_number), cell(e.phone), cell(COLORS[e.color]),
            el('td', {}, el('button', { type: 'button', class: 'link', onclick: () => { f.by.value = 'subject'; f.id.value = e.subject_id; labelFor(); search('subject', e.subject_id); } }, '追踪此人')))), 'trace-table'),
      );
    } else {
      const { subject } = result.pages[0];
      const visits = result.pages.flatMap((p) => p.visits);
      const scans = result.pages.flatMap((p) => p.scans);
      const place = (code) => (code ? divisions.fullName(code) : '');
      const csv = [
        ['类型', '时间', '场所编号', '场所名称', '地址', '地区', '健康码', '验码账号'],
        ...visits.map((v) => ['场所登记', formatTime(v.entered_at), v.venue?.id || '', v.venue?.name || '', v.venue?.address || '', place(v.venue?.region), COLORS[v.color], '']),
        ...scans.map((s) => ['验码', formatTime(s.scanned_at), '', '', '', place(s.region), COLORS[s.color], s.scanner]),
      ];
      out.append(
        el('dl', { class: 'facts' },
          el('dt', {}, '姓名'), el('dd', {}, subject.name),
          el('dt', {}, '身份证号'), el('dd', {}, subject.id_number),
          el('dt', {}, '手机号'), el('dd', {}, subject.phone || '—'),
          el('dt', {}, '人员编号'), el('dd', {}, subject.subject_id)),
        el('p', {}, el('button', { type: 'button', class: 'secondary', id: 'trace-csv', onclick: () => download(new Blob([toCsv(csv)], { type: 'text/csv' }), `流调-人员-${subject.subject_id}-${stamp}.csv`) }, '下载 CSV')),
        el('h2', {}, `到访场所（${visits.length}）`),
        table(['进入时间', '场所', '地址', '健康码'], visits.map((v) =>
          el('tr', {}, cell(formatTime(v.entered_at)), cell(v.venue?.name), cell(v.venue ? `${place(v.venue.region)} ${v.venue.address}` : ''), cell(COLORS[v.color]))), 'trace-visits'),
        el('h2', {}, `被验码记录（${scans.length}）`),
        table(['验码时间', '地区', '健康码', '验码账号'], scans.map((s) =>
          el('tr', {}, cell(formatTime(s.scanned_at)), cell(place(s.region)), cell(COLORS[s.color]), cell(s.scanner))), 'trace-scans'),
      );
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(form, () => search(f.by.value, f.id.value.trim()));
  });
  // Opened from the search cards: the trace of a venue or a person found there.
  return (by, id) => {
    f.by.value = by;
    f.id.value = id;
    labelFor();
    $('#trace').scrollIntoView({ block: 'start' });
    busy(form, () => search(by, id));
  };
}

// ---- the page -------------------------------------------------------------

if (!(user.roles || []).includes('authority')) {
  const box = $('#msg');
  box.hidden = false;
  box.className = 'msg error';
  box.replaceChildren(
    el('span', {}, '此页面仅供卫生健康部门使用，需要 authority 角色。运营人员可执行：'),
    el('code', { class: 'qr-content' }, `hcctl roles grant --user ${user.id} --role authority`),
  );
} else {
  $('#dashboard').hidden = false;
  setupRankings();
  setupRisk();
  setupFind(divisions, setupTrace());
  setupAppeals();
}
