// ESLint: the recommended JavaScript and typescript-eslint rules, with the few this code base
// needs relaxed (each says why).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_` marks a value left unused on purpose (destructuring, loop variables)
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // S3's responses are untyped JSON in places; every `any` left is commented where it stands
      "@typescript-eslint/no-explicit-any": "warn",
      // Prettier wraps code at 120 columns; a message or test name stays whole on its line, so it
      // can be found with grep
      "max-len": ["error", { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreUrls: true }],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", Buffer: "readonly", console: "readonly" } },
  },
  {
    files: ["test/**", "benchmarks/**", "examples/**"],
    rules: {
      // tests assert on values they know are there
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
