import { describe, expect, it } from "vitest";
import { catalogs, keysOf, translator } from "./i18n";

describe("translations", () => {
  it("French and German have every English key", () => {
    const english = keysOf(catalogs.en).sort();
    expect(keysOf(catalogs.fr).sort()).toEqual(english);
    expect(keysOf(catalogs.de).sort()).toEqual(english);
  });

  it("fills placeholders and keeps unknown ones visible", () => {
    const t = translator("en");
    expect(t("errors.out_of_range", { min: 1, max: 9 })).toBe("Must be between 1 and 9.");
    expect(t("errors.out_of_range", { min: 1 })).toBe("Must be between 1 and {max}.");
  });

  it("falls back to the key for an unknown text", () => {
    expect(translator("de")("settings.nope")).toBe("settings.nope");
  });
});

describe("errors from the backend", () => {
  it("are said in the user's language by their code, with their subject", async () => {
    const { describe: say } = await import("./i18n");
    const failure = Object.assign(new Error("No Aircall user has the e-mail a@b.test."), {
      code: "aircall_no_user",
      subject: "a@b.test",
    });
    expect(say(failure, translator("fr"))).toBe("Aucun utilisateur Aircall n’a l’adresse a@b.test.");
    expect(say(failure, translator("de"))).toBe("Kein Aircall-Benutzer hat die E-Mail-Adresse a@b.test.");
  });

  it("fall back to the backend's sentence for a code without a translation", async () => {
    const { describe: say } = await import("./i18n");
    const failure = Object.assign(new Error("something new"), { code: "brand_new", subject: null });
    expect(say(failure, translator("fr"))).toBe("something new");
    expect(say(new Error("plain"), translator("de"))).toBe("plain");
  });
});
