/** Journal paths: `setup/welcome/welcome`, `charge[17]/charge`. */
export const childPath = (prefix: string, name: string): string => (prefix === "" ? name : `${prefix}/${name}`)

export const itemPath = (path: string, key: string | number): string => `${path}[${key}]`
