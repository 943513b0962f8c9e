import { defineConfig } from "vitest/config"

/**
 * The semantic tests: the memory journal under the TestClock, each finishing in milliseconds.
 * A short timeout makes a hang among them fail in seconds; the test helpers (`runFor`,
 * `interrupt`) already fail a run that never finishes or never stops without waiting at all.
 */
const unit = [
  "branch",
  "chord",
  "child",
  "compensation",
  "definition",
  "forEach",
  "foundation",
  "limit",
  "parallel",
  "paths",
  "property",
  "race",
  "resume",
  "scenarios",
  "schedule",
  "settle",
  "signal",
  "stepInfo"
].map((name) => `test/${name}.test.ts`)

export default defineConfig({
  resolve: { conditions: ["plait-source"] },
  ssr: { resolve: { conditions: ["plait-source"] } },
  test: {
    reporters: ["default", "./test/support/summaryReporter.ts"],
    projects: [
      { extends: true, test: { name: "unit", include: unit, testTimeout: 15_000, hookTimeout: 15_000 } },
      {
        extends: true,
        // Real stores, real processes and real time: Postgres, SQLite files, crash children.
        test: {
          name: "storage",
          include: ["test/**/*.test.ts"],
          exclude: unit,
          testTimeout: 60_000,
          hookTimeout: 60_000
        }
      }
    ]
  }
})
