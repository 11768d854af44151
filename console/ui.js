/*
 * Helpers shared by the console's pages (and console/admin.js): building
 * elements without HTML strings (so no markup is ever parsed from data),
 * the error area, and the formats of money and time. Money arrives as
 * integer micro-credits (1 credit = 1,000,000) and is shown and read as
 * decimal strings computed from integers, never through floating point.
 */

/*
 * h("button", {class: "primary", onclick: fn}, "Save"): an element.
 * Attributes named on* are listeners; true/false toggle a boolean
 * attribute; null and undefined are skipped. Children are nodes or text
 * (arrays are flattened; null skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function")
      el.addEventListener(k.slice(2), v);
    else if (k === "style")
      throw new Error("style attributes are forbidden by the CSP");
    else
      el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/* SVG elements for the charts (usage.js). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {}))
    if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

/* The page's error area (aria-live): the message and the request id. */
export function showError(err) {
  const area = document.getElementById("errors");
  const msg = err && err.message ? err.message : String(err);
  const line = h("p", {}, msg,
    err && err.requestId ? h("span", { class: "muted" },
      " (request id ", h("code", {}, err.requestId), ")") : null);
  area.replaceChildren(line);
}

export function clearErrors() {
  document.getElementById("errors").replaceChildren();
}

/* 1234567 -> "1.234567"; 5000000 -> "5.00"; at least two decimals. */
export function formatMicros(micros) {
  if (!Number.isSafeInteger(micros)) return "—";
  const neg = micros < 0;
  const abs = Math.abs(micros);
  let frac = String(abs % 1000000).padStart(6, "0").replace(/0+$/, "");
  frac = frac.padEnd(2, "0");
  const whole = Math.floor(abs / 1000000).toLocaleString("en-US");
  return (neg ? "−" : "") + whole + "." + frac;
}

/* "1.5" -> 1500000; null for anything that is not a plain amount. */
export function parseCredits(text) {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,6}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 1000000 + Number((m[2] || "").padEnd(6, "0"));
}

/* An amount in a currency's minor unit (cents), as the buyer reads it. */
export function formatMoney(minor, currency) {
  const cur = String(currency || "").toUpperCase();
  try {
    const f = new Intl.NumberFormat(undefined, { style: "currency",
                                                 currency: cur });
    const digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(minor / 10 ** digits);
  } catch (e) {
    return minor + " " + cur;
  }
}

export function formatDate(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

export function formatCount(n) {
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "—";
}

/* A table of rows: columns are [heading, row => cell, class?]. */
export function table(caption, columns, rows, empty) {
  if (rows.length === 0)
    return h("p", { class: "muted" }, empty || "Nothing yet.");
  return h("div", { class: "scroll" },
    h("table", { class: "list" },
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map(([t, , c]) =>
        h("th", { scope: "col", class: c }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map(([, f, c]) =>
        h("td", { class: c }, f(r))))))));
}

/* A labelled input: <div class=field><label>…</label><input></div>. */
let fieldSeq = 0;
export function field(label, attrs, hint) {
  const id = "f" + ++fieldSeq;
  const input = h(attrs.tag || "input", { ...attrs, tag: null, id,
                  "aria-describedby": hint ? id + "-hint" : null });
  return {
    input,
    el: h("div", { class: "field" }, h("label", { for: id }, label), input,
          hint ? h("small", { id: id + "-hint", class: "muted" }, hint) :
          null),
  };
}
