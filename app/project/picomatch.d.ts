/**
 * The part of picomatch 4 (https://github.com/micromatch/picomatch, README "API")
 * that app/project/datasets.ts uses; the package ships no types of its own.
 */
declare module "picomatch" {
  interface PicomatchOptions {
    /** Match dotfiles. */
    dot?: boolean;
    /** Also accept backslashes as the path separator. */
    windows?: boolean;
    nocase?: boolean;
  }
  function picomatch(glob: string | string[], options?: PicomatchOptions): (test: string) => boolean;
  namespace picomatch {
    function scan(input: string, options?: PicomatchOptions): { isGlob: boolean; base: string; glob: string };
  }
  export default picomatch;
}
