// Building elements without innerHTML: every text from the API goes in as text, never as markup.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  el.append(...children.flat(Infinity).filter((child) => child != null && child !== false).map(
    (child) => (child instanceof Node ? child : String(child))));
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((child) => child != null && child !== false));
  return el;
}

// A neutral stand-in where a model has no preview, or its preview fails to load: a word that says what the
// model is (its type, where known), never letters cut from its name.
export function placeholder(label = 'No preview') {
  return h('div', { class: 'placeholder', 'aria-hidden': 'true' }, h('span', {}, label));
}

export function preview(url, label, eager = false) {
  if (!url) return placeholder(label);
  const img = h('img', { src: url, alt: '', loading: eager ? 'eager' : 'lazy', decoding: 'async' });
  img.addEventListener('error', () => img.replaceWith(placeholder(label)), { once: true });
  return img;
}
