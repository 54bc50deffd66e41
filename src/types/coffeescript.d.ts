declare module 'coffeescript' {
  interface CompileOptions {
    bare?: boolean;
    sourceMap?: boolean;
    inlineMap?: boolean;
    filename?: string;
    header?: boolean;
  }
  const CoffeeScript: {
    compile(source: string, options?: CompileOptions): string | { js: string; v3SourceMap: string };
  };
  export default CoffeeScript;
}
