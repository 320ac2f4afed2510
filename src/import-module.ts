// import() of a package loaded only when asked for (parquet-wasm). The command's executable
// (src/cli/start.ts) runs the bundled command from V8's code cache, and in Node 20 no function of
// a script compiled with a code cache can import() by itself (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING):
// the executable lends its import() under IMPORT_MODULE, and such imports go through it.

/** Where the executable puts its import() (a global: the bundle and the executable share no module). */
export const IMPORT_MODULE = Symbol.for("synfin.importModule");

type Importer = (specifier: string) => Promise<unknown>;

/** import(specifier), through the executable's import() when it lent one. */
export function importModule<T>(specifier: string): Promise<T> {
  const lent = (globalThis as { [IMPORT_MODULE]?: Importer })[IMPORT_MODULE];
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}
