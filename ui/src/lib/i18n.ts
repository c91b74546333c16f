// Every text a window shows comes from these files; components never hold
// English (or any) strings of their own.

import en from "../i18n/en.json";
import fr from "../i18n/fr.json";
import de from "../i18n/de.json";
import type { CrmDescriptor, Language } from "./types";

type Catalog = { [key: string]: string | Catalog };
const catalogs: Record<Language, Catalog> = { en, fr, de };

function lookup(catalog: Catalog, key: string): string | undefined {
  let node: string | Catalog | undefined = catalog;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = node[part];
  }
  return typeof node === "string" ? node : undefined;
}

export type Translate = (key: string, params?: Record<string, string | number>) => string;

/** `t("settings.save")`; `{name}` placeholders are filled from `params`. Falls back to English, then to the key. */
export function translator(language: Language): Translate {
  return (key, params = {}) => {
    const text = lookup(catalogs[language], key) ?? lookup(catalogs.en, key) ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
      name in params ? String(params[name]) : whole,
    );
  };
}

/** Every key in a catalog, e.g. `settings.save`; used to check the translations are complete. */
export function keysOf(catalog: Catalog, prefix = ""): string[] {
  return Object.entries(catalog).flatMap(([key, value]) =>
    typeof value === "string" ? [prefix + key] : keysOf(value, `${prefix}${key}.`),
  );
}

export { catalogs };

/** A CRM's name, as its descriptor gives it (names are not translated). */
export function crmName(crms: CrmDescriptor[], id: string): string {
  return crms.find((crm) => crm.id === id)?.name ?? id;
}

/**
 * What went wrong, in the user's language when the backend's code has a
 * translation (`errors.<code>`), else the backend's own sentence.
 */
export function describe(error: unknown, t: Translate): string {
  // A CommandFailure (backend.ts) carries `code` and `subject`; tests mock that module, so look, not instanceof.
  const failure = error as { code?: unknown; subject?: unknown; message?: unknown } | null;
  if (failure && typeof failure.code === "string") {
    const key = `errors.${failure.code}`;
    const text = t(key, { subject: typeof failure.subject === "string" ? failure.subject : "" });
    if (text !== key) return text;
  }
  return error instanceof Error ? error.message : String(error);
}
