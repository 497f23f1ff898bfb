// SVG elements for the page's small charts and the cloud's drawn selection.

const NAMESPACE = "http://www.w3.org/2000/svg";

/** An SVG element with its attributes set (numbers written as they are) and optional text. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(NAMESPACE, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}
