// Lint and format as Effect does: typescript-eslint's recommended rules and @effect/eslint-plugin's
// dprint rule (2 spaces, 120 columns, double quotes, no semicolons, no trailing commas).
// `npm run lint` checks; `npm run lint:fix` formats.
import effectPlugin from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "docs/api/**",
      "bench/results/**",
      "**/*.d.ts",
      ".plait/**",
      // Written by bench/types/generate.ts, and compared with what it writes (test/tools/type-scale.test.ts).
      "test/types/scale.tst.ts"
    ]
  },
  ...tseslint.configs.recommended,
  ...effectPlugin.configs.dprint,
  {
    files: ["**/*.ts", "**/*.mjs"],
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force",
          // Imports stay in the order written: a module lists its value imports of plait before
          // its type-only ones, which keeps the import-cycle check (a line-based reader) exact.
          "module.sortImportDeclarations": "maintain"
        }
      }],
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      // `import { type A }` still loads its module under verbatimModuleSyntax; `import type` does not.
      "@typescript-eslint/no-import-type-side-effects": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/ban-ts-comment": "off"
    }
  },
  {
    // Type tests declare values only to read their types, and state expressions only to check them.
    files: ["test/types/**/*.tst.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": "off",
      "@typescript-eslint/no-unused-expressions": "off"
    }
  }
)
