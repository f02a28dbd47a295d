// index.html: log in (the development provider locally: dev:<name>).
import { api, apiSettings } from '../api.js';
import { getSession, identityUrl, safeNext, setSession } from '../session.js';
import { $, busy, frame, message } from '../ui.js';

const next = safeNext(new URLSearchParams(location.search).get('next'));
const settings = apiSettings();
frame(null);
$('#api').textContent = `${settings.apiBase}（${settings.layout === 'gateway' ? 'API Gateway' : 'cargo lambda'}）`;

function proceed(session) {
  if (!session.user.verified) location.replace(next ? identityUrl(next) : 'identity.html');
  else location.replace(next || 'code.html');
}

const current = getSession();
if (current) proceed(current);

const form = $('#login');
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const box = $('.msg', form);
  const raw = form.elements.code.value.trim();
  const name = form.elements.name.value.trim();
  const code = raw || `dev:${name}`;
  busy(form, async () => {
    try {
      const session = await api('POST', '/v1/login', { body: { code }, auth: false });
      setSession(session);
      proceed(session);
    } catch (err) {
      message(box, err.status === 401 ? '登录码未被接受' : err);
    }
  });
});
form.elements.code.addEventListener('input', () => {
  form.elements.name.required = !form.elements.code.value.trim();
});
