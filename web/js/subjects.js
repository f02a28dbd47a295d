// The subjects the caller acts for: their own and their dependents'
// (监护人代领), as a row of buttons; the choice is kept in ?subject=.
import { api } from './api.js';
import { RELATIONS, label } from './labels.js';
import { updateUser } from './session.js';
import { el } from './ui.js';

/** GET /v1/me, remembered in the session. */
export async function loadMe() {
  const { user } = await api('GET', '/v1/me');
  updateUser(user);
  return user;
}

/** [{id, name, relation}] with the caller first; id '' stands for the caller. */
export function subjectsOf(user) {
  return [
    { id: '', name: `${user.name_masked || '本人'}（本人）` },
    ...(user.dependents || []).map((d) => ({ id: d.subject_id, name: `${d.name_masked}（${label(RELATIONS, d.relation)}）`, relation: d.relation })),
  ];
}

export function selectedSubject(user) {
  const wanted = new URLSearchParams(location.search).get('subject') || '';
  return subjectsOf(user).some((s) => s.id === wanted) ? wanted : '';
}

/** Fills `container` with one button per subject; hidden when there is only the caller. */
export function subjectTabs(container, user, selected, onSelect) {
  const subjects = subjectsOf(user);
  container.hidden = subjects.length < 2;
  const render = (current) => {
    container.replaceChildren(
      ...subjects.map((s) =>
        el('button', {
          type: 'button', role: 'tab', class: s.id === current ? 'active' : null, 'aria-selected': String(s.id === current),
          dataset: { subject: s.id },
          onclick: () => {
            const url = new URL(location.href);
            if (s.id) url.searchParams.set('subject', s.id);
            else url.searchParams.delete('subject');
            history.replaceState(null, '', url);
            render(s.id);
            onSelect(s.id);
          },
        }, s.name),
      ),
    );
  };
  render(selected);
}
