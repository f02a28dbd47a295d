// The division table (data/divisions.json, copied from shared/data/cn-divisions.csv
// by scripts/vendor.mjs) and cascading <select> pickers over it.
import { el } from './ui.js';

export const HEBEI = '130000';
let loading = null;

export function loadDivisions() {
  loading ||= fetch(new URL('../data/divisions.json', import.meta.url))
    .then((r) => {
      if (!r.ok) throw new Error(`divisions.json: ${r.status}`);
      return r.json();
    })
    .then(({ rows }) => {
      const byCode = new Map();
      const children = new Map();
      for (const [code, name, level, parent] of rows) {
        byCode.set(code, { code, name, level, parent });
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(code);
      }
      return {
        get: (code) => byCode.get(code),
        children: (code) => (children.get(code) || []).map((c) => byCode.get(c)),
        provinces: () => children.get('').map((c) => byCode.get(c)),
        /** 河北省 石家庄市 长安区 */
        fullName(code) {
          const names = [];
          for (let d = byCode.get(code); d; d = byCode.get(d.parent)) names.unshift(d.name);
          return names.join(' ') || code;
        },
        /** 石家庄市 长安区: the name below the province. */
        shortName(code) {
          const names = [];
          for (let d = byCode.get(code); d && d.level !== 'province'; d = byCode.get(d.parent)) names.unshift(d.name);
          return names.join(' ') || byCode.get(code)?.name || code;
        },
      };
    });
  return loading;
}

/**
 * Cascading selects. levels: the levels to pick, from the top ('province',
 * 'city', 'county'); root: the code above the first level when it is not a
 * province (for Hebei's cities, HEBEI). `optional` lists the levels that may
 * stay unchosen (the value is then the level above). The picker's value is
 * the code of the lowest level chosen, or '' when the first is not chosen.
 */
export function regionPicker(divisions, { levels, root = '', optional = [], labels = {}, name = 'region', value = '' }) {
  const TITLES = { province: '省份', city: '城市', county: '区县' };
  const selects = levels.map((level) =>
    el('select', { name: `${name}-${level}`, 'aria-label': labels[level] || TITLES[level], dataset: { level } }),
  );
  const fill = (select, parent, index) => {
    const level = levels[index];
    const placeholder = optional.includes(level) && index > 0 ? `（不选${TITLES[level]}）` : `请选择${TITLES[level]}`;
    select.replaceChildren(el('option', { value: '' }, placeholder));
    const options = parent === null ? [] : parent === '' ? divisions.provinces() : divisions.children(parent);
    for (const d of options) select.append(el('option', { value: d.code }, d.name));
    select.disabled = parent === null || options.length === 0;
  };
  const refill = (from) => {
    for (let i = from; i < selects.length; i++) {
      const parent = i === 0 ? root : selects[i - 1].value || null;
      fill(selects[i], parent, i);
    }
  };
  selects.forEach((select, i) => select.addEventListener('change', () => refill(i + 1)));
  refill(0);

  const picker = {
    element: el('div', { class: `picker levels-${levels.length}` }, selects),
    selects,
    get value() {
      let code = '';
      for (const select of selects) {
        if (!select.value) break;
        code = select.value;
      }
      return code;
    },
    /** Whether every level that is not optional is chosen. */
    get complete() {
      // A level may stay empty when optional, or when the level above has nothing below it.
      return selects.every((s, i) => s.value || optional.includes(levels[i]) || (i > 0 && s.disabled && selects[i - 1].value));
    },
    set(code) {
      const path = [];
      for (let d = divisions.get(code); d && d.code !== root; d = divisions.get(d.parent)) path.unshift(d.code);
      refill(0);
      levels.forEach((_, i) => {
        const c = path[i];
        if (c && [...selects[i].options].some((o) => o.value === c)) {
          selects[i].value = c;
          refill(i + 1);
        }
      });
    },
    reset() {
      refill(0);
    },
  };
  if (value) picker.set(value);
  return picker;
}
