// scan.html: a guard scans the code a person shows (验码), with the camera,
// from an image or from a handheld scanner that types the content, and sees
// pass or verify with the masked name and ID. A code of another province's
// trusted issuer shows that issuer, and that its colour is the one the issuer
// signed, not a live status. An inspector (the `inspector` role) also types
// the ID number of a person without a phone and sees the same verdict.
import { api } from '../api.js';
import { HEBEI, loadDivisions, regionPicker } from '../divisions.js';
import { COLORS } from '../labels.js';
import { cameraError, decodeImageFile, isHealthCode, startCamera, venueToken } from '../qr.js';
import { requireSession } from '../session.js';
import { loadMe } from '../subjects.js';
import { $, el, formatTime, frame, message } from '../ui.js';

await requireSession({ verified: true });
frame('scan');
const divisions = await loadDivisions();
// An inspector also checks people without a phone by ID number: the role as the account holds it now.
const me = await loadMe().catch(() => null);
const inspector = Boolean(me && (me.roles || []).includes('inspector'));

const box = $('#msg');
const result = $('#result');
const video = $('#video');
const cameraButton = $('#camera');
const stopButton = $('#stop');
let camera = null;
let scanning = false;

// Where the scans happen: remembered on this device.
const REGION = 'hc.scan.region';
const region = regionPicker(divisions, { levels: ['city', 'county'], root: HEBEI, name: 'scan-region', value: localStorage.getItem(REGION) || '' });
$('#region').append(region.element);
region.element.addEventListener('change', () => {
  if (divisions.get(region.value)?.level === 'county') localStorage.setItem(REGION, region.value);
  else localStorage.removeItem(REGION);
});

function stopCamera() {
  camera?.stop();
  camera = null;
  video.hidden = true;
  stopButton.hidden = true;
  cameraButton.hidden = false;
}

function verdict(answer) {
  const pass = answer.result === 'pass';
  const live = answer.live !== false;
  const person = live
    ? [el('dt', {}, '姓名'), el('dd', { class: 'name' }, answer.name_masked),
      el('dt', {}, '身份证号'), el('dd', { class: 'id' }, answer.id_masked)]
    : [el('dt', {}, '签发方'), el('dd', { class: 'issuer' }, answer.issuer)];
  return el('section', { class: `verdict ${pass ? 'pass' : 'verify'} ${answer.color}`, dataset: { result: answer.result, live: String(live) } },
    el('p', { class: 'big' }, pass ? '通行' : '请核验'),
    live ? null : el('p', { class: 'not-live' }, '外省健康码：颜色为签发方赋码时的颜色，非本省实时状态'),
    el('dl', {},
      ...person,
      el('dt', {}, '健康码'), el('dd', { class: 'color' }, COLORS[answer.color]),
      el('dt', {}, '状态'), el('dd', {}, answer.status_text),
      el('dt', {}, '验码时间'), el('dd', {}, formatTime(answer.scanned_at))),
    answer.hints.length ? el('ul', { class: 'hints-list' }, answer.hints.map((h) => el('li', {}, h))) : null);
}

/** Sends a scan (a code, or an inspector's ID number) and shows the verdict. */
async function send(body) {
  scanning = true;
  message(box, '正在查验…', 'info');
  try {
    if (divisions.get(region.value)?.level === 'county') body.region = region.value;
    const answer = await api('POST', '/v1/scans', { body });
    message(box, null);
    result.replaceChildren(
      verdict(answer),
      el('button', { type: 'button', class: 'block', onclick: () => { result.hidden = true; $('#scanner').hidden = false; $('#idcard').hidden = !inspector; } }, '继续验码'),
    );
    result.hidden = false;
    $('#scanner').hidden = true;
    $('#idcard').hidden = true;
    return true;
  } catch (err) {
    message(box, err);
    return false;
  } finally {
    scanning = false;
  }
}

/** Sends a scanned code; true when it was a health code (even an invalid one). */
async function handle(content) {
  if (!isHealthCode(content)) {
    message(box, venueToken(content) ? '这是场所码，不是个人健康码；场所登记请使用“扫码登记”。' : '不是健康码');
    return false;
  }
  if (scanning) return true;
  await send({ code: content.trim() });
  return true;
}

$('#idcard').hidden = !inspector;
$('#idcard-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('#id-number');
  const number = input.value.trim().toUpperCase();
  if (!/^[0-9]{17}[0-9X]$/.test(number)) {
    message(box, '身份证号码应为 18 位（末位可为 X）');
    return;
  }
  if (scanning) return;
  // The number is not kept on the page once it is sent.
  if (await send({ id_number: number })) input.value = '';
});

cameraButton.addEventListener('click', async () => {
  message(box, null);
  try {
    video.hidden = false;
    camera = await startCamera(video, async (content) => {
      const done = await handle(content);
      if (done) stopCamera();
      return done;
    });
    cameraButton.hidden = true;
    stopButton.hidden = false;
  } catch (err) {
    stopCamera();
    message(box, cameraError(err));
  }
});
stopButton.addEventListener('click', stopCamera);

// A handheld scanner types the content and Enter, like a keyboard.
$('#manual').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('#content');
  const content = input.value;
  if (!content.trim()) return;
  if (await handle(content)) input.value = '';
});

$('#upload').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  message(box, '正在识别…', 'info');
  let content = null;
  try {
    content = await decodeImageFile(file);
  } catch {
    content = null;
  }
  if (!content) {
    message(box, '未能识别图片中的二维码');
    return;
  }
  await handle(content);
});
