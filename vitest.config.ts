import { defineConfig } from "vitest/config"

/**
 * One project per folder of `test/` (see `test/README.md`): a test belongs to a project by where
 * it lives, so there is no list of files to keep. `test/support/` holds no tests, `test/types/` is
 * tstyche's and `test/package/` is `npm run test:package`'s.
 */
const project = (name: string, timeout: number) => ({
  extends: true,
  test: { name, include: [`test/${name}/**/*.test.ts`], testTimeout: timeout, hookTimeout: timeout }
})

export default defineConfig({
  resolve: { conditions: ["plait-source"] },
  ssr: { resolve: { conditions: ["plait-source"] } },
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      // The semantic tests: the memory journal under the TestClock, each finishing in
      // milliseconds. A short timeout makes a hang among them fail in seconds; the test helpers
      // (`runFor`, `interrupt`) already fail a run that never finishes or never stops without
      // waiting at all.
      project("unit", 15_000),
      // Real stores, real processes, a real browser and real time: Postgres, SQLite files, crash
      // children, Chromium, the compiler.
      project("backends", 60_000),
      project("processes", 60_000),
      project("browser", 60_000),
      project("tools", 60_000)
    ]
  }
})
