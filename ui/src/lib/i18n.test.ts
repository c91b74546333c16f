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
