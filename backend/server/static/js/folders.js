// The folder tree beside the library, from the catalogue's counts (GET /api/models/facets): a root and its
// folders, each a button that shows only what lies under it, collapsible where it has subfolders.
import { clear, h } from './dom.js';
import { fileName } from './format.js';

function parentOf(path) {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function nodes(folders, roots) {
  const byPath = new Map(folders.map((folder) => [folder.path, { ...folder, children: [] }]));
  const tops = [];
  for (const node of byPath.values()) {
    const parent = roots.includes(node.path) ? null : byPath.get(parentOf(node.path));
    (parent ? parent.children : tops).push(node);
  }
  return tops;
}

export function folderTree(container, { pick }) {
  let selected = '';
  const render = (facets) => {
    const item = (node, depth) => {
      const label = depth === 0 ? (fileName(node.path) || node.path) : fileName(node.path);
      const open = depth === 0 || selected.startsWith(`${node.path}/`);
      const sub = node.children.length
        ? h('ul', { hidden: !open }, node.children.map((child) => item(child, depth + 1))) : null;
      const toggle = sub ? h('button', {
        type: 'button', class: 'toggle quiet', 'aria-expanded': String(open), 'aria-label': `Subfolders of ${label}`,
        onclick: (event) => {
          sub.hidden = !sub.hidden;
          event.currentTarget.setAttribute('aria-expanded', String(!sub.hidden));
        },
      }, '') : h('span', { class: 'toggle-space' });
      return h('li', {}, toggle,
        h('button', { type: 'button', class: 'pick', 'data-folder': node.path, title: node.path,
          'aria-pressed': String(selected === node.path), onclick: () => pick(node.path) },
        h('span', { class: 'label' }, label), ' ', h('span', { class: 'count' }, node.count.toLocaleString())),
        sub);
    };
    const total = facets.folders.filter((folder) => facets.roots.includes(folder.path))
      .reduce((sum, folder) => sum + folder.count, 0);
    clear(container,
      h('button', { type: 'button', class: 'pick all', 'aria-pressed': String(!selected), onclick: () => pick('') },
        h('span', { class: 'label' }, 'All folders'), ' ', h('span', { class: 'count' }, total.toLocaleString())),
      h('ul', {}, nodes(facets.folders, facets.roots).map((node) => item(node, 0))));
  };
  let last = null;
  return {
    show(facets) { last = facets; render(facets); },
    select(folder) {
      selected = folder || '';
      if (last) render(last);
    },
  };
}
