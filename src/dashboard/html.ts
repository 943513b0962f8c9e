/**
 * HTML built with a tagged template that escapes every interpolated value, so nothing a run
 * holds (its id, input, outputs, errors: all user data) can become markup. Only fragments built
 * by this same template pass through unescaped.
 */
const HtmlTypeId: unique symbol = Symbol.for("plait/dashboard/Html")

export interface Html {
  readonly [HtmlTypeId]: typeof HtmlTypeId
  readonly text: string
}

const trusted = (text: string): Html => ({ [HtmlTypeId]: HtmlTypeId, text })

const isHtml = (u: unknown): u is Html => typeof u === "object" && u !== null && HtmlTypeId in u

export const escape = (text: string): string => text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`)

type Value = Html | string | number | boolean | undefined | null | ReadonlyArray<Value>

const render = (value: Value): string => {
  if (value === undefined || value === null || value === false) return ""
  if (Array.isArray(value)) return value.map(render).join("")
  if (isHtml(value)) return value.text
  return escape(String(value))
}

export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Value>): Html =>
  trusted(strings.reduce((out, s, i) => out + s + (i < values.length ? render(values[i]!) : ""), ""))

/** A constant of this package (CSS, the page's script): never user data. */
export const constant = (text: string): Html => trusted(text)
