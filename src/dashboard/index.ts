/**
 * plait's web dashboard, mounted into an Effect HTTP server: `import { Dashboard } from "plait/dashboard"`.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Dashboard from "./Dashboard.ts"
