// checkin.html: check in at a venue by a photo of its poster (decoded here)
// or by pasting the venue code's content.
import { checkIn, checkinResult } from '../checkin.js';
import { decodeImageFile, isHealthCode, venueToken } from '../qr.js';
import { requireSession } from '../session.js';
import { loadMe, selectedSubject, subjectTabs } from '../subjects.js';
import { $, busy, frame, message, newIdempotencyKey } from '../ui.js';

await requireSession({ verified: true });
frame('checkin');
const user = await loadMe();
frame('checkin');

let subject = selectedSubject(user);
subjectTabs($('#subjects'), user, subject, (id) => { subject = id; });
const form = $('#checkin');
const box = $('.msg', form);
const result = $('#result');
// One key per intended entry: a retry after a lost answer logs nothing twice.
const keys = new Map();

function submit() {
  const content = form.elements.venue_code.value.trim();
  if (!content) {
    message(box, '请上传场所码照片或粘贴场所码内容');
    return;
  }
  if (isHealthCode(content)) {
    message(box, '这是个人健康码，不是场所码；查验他人健康码请使用“验码”。');
    return;
  }
  if (!venueToken(content)) {
    message(box, '不是河北健康码的场所码');
    return;
  }
  const id = `${subject}\n${content}`;
  if (!keys.has(id)) keys.set(id, newIdempotencyKey());
  return busy(form, async () => {
    try {
      const answer = await checkIn(content, subject, keys.get(id));
      keys.delete(id);
      message(box, null);
      result.replaceChildren(checkinResult(answer));
      result.hidden = false;
      result.scrollIntoView({ block: 'start' });
    } catch (err) {
      result.hidden = true;
      message(box, err);
    }
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
});
form.elements.photo.addEventListener('change', async () => {
  const file = form.elements.photo.files[0];
  if (!file) return;
  message(box, '正在识别…', 'info');
  let content = null;
  try {
    content = await decodeImageFile(file);
  } catch {
    content = null;
  }
  form.elements.photo.value = '';
  if (!content) {
    message(box, '未能识别图片中的二维码，请重新拍摄清晰、完整的场所码');
    return;
  }
  form.elements.venue_code.value = content;
  message(box, null);
  submit();
});
