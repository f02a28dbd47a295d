// identity.html: real-name authentication (POST /v1/identity).
import { api } from '../api.js';
import { requireSession, safeNext, setSession, updateUser } from '../session.js';
import { $, busy, frame, message } from '../ui.js';

const next = safeNext(new URLSearchParams(location.search).get('next'));
await requireSession();
frame(null);

function done(user, declared) {
  $('#identity').hidden = true;
  $('#done').hidden = false;
  $('#name').textContent = user.name_masked;
  $('#id').textContent = user.id_masked;
  $('#continue').href = next || (declared ? 'code.html' : 'declare.html');
}

const { user } = await api('GET', '/v1/me');
updateUser(user);
if (user.verified) done(user, true);
else $('#identity').hidden = false;

const form = $('#identity');
form.addEventListener('submit', (event) => {
  event.preventDefault();
  const f = form.elements;
  busy(form, async () => {
    try {
      // The answer carries a new token that names the subject.
      const answer = await api('POST', '/v1/identity', {
        body: { name: f.name.value.trim(), id_number: f.id_number.value.trim().toUpperCase(), phone: f.phone.value.trim() },
      });
      setSession(answer);
      frame(null);
      if (next) location.replace(next);
      else done(answer.user, false);
    } catch (err) {
      message($('.msg', form), err);
    }
  });
});
