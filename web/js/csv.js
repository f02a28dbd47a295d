// Reading the authority's risk-person CSV (id_number,status,since) in the
// browser, and cutting it into requests that fit the API's 16 KiB body limit.

/** The fields of one CSV line (RFC 4180 quotes; no line breaks inside a field). */
export function csvFields(line) {
  const fields = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  fields.push(field);
  return fields.map((f) => f.trim());
}

export const COLUMNS = ['id_number', 'status', 'since'];

/**
 * The records of the file with their line numbers (1 is the header), and the
 * lines refused before sending: {records: [{line, record}], problems: [{line, reason}]}.
 */
export function parseRiskCsv(text) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const header = csvFields(lines[0] || '').map((h) => h.toLowerCase());
  const index = COLUMNS.map((c) => header.indexOf(c));
  if (index.some((i) => i < 0)) {
    return { records: [], problems: [{ line: 1, reason: '首行应为 id_number,status,since' }] };
  }
  const records = [];
  const problems = [];
  lines.slice(1).forEach((raw, i) => {
    const line = i + 2;
    if (!raw.trim()) return;
    const fields = csvFields(raw);
    if (fields.length !== header.length) {
      problems.push({ line, reason: `应有 ${header.length} 列，实为 ${fields.length} 列` });
      return;
    }
    const [id_number, status, since] = index.map((k) => fields[k]);
    records.push({ line, record: { id_number, status, since } });
  });
  return { records, problems };
}

/** Consecutive chunks of at most `maxRecords` whose JSON body stays under `maxBytes`. */
export function chunk(records, { maxRecords = 200, maxBytes = 12 * 1024 } = {}) {
  const chunks = [];
  let current = [];
  let bytes = 20;
  for (const item of records) {
    const size = new TextEncoder().encode(JSON.stringify(item.record)).length + 1;
    if (current.length && (current.length >= maxRecords || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 20;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}
