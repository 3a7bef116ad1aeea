// The desktop window's first size, from the screen's work area.

/** The app is laid out for 1280×720 and up; below that panels fold but stay usable down to this. */
const MIN = { width: 1024, height: 640 };
/** A comfortable size on a large screen. */
const PREFERRED = { width: 1400, height: 900 };

export interface WindowSize {
  width: number;
  height: number;
  minWidth: number;
  minHeight: number;
}

/**
 * The window's size on a work area of `area` (the screen less task bars):
 * 1400×900 where it fits, else the whole work area, never below 1024×640
 * nor, as a minimum, larger than the work area itself.
 */
export function windowSize(area: { width: number; height: number }): WindowSize {
  const w = Number.isFinite(area.width) && area.width > 0 ? Math.floor(area.width) : PREFERRED.width;
  const h = Number.isFinite(area.height) && area.height > 0 ? Math.floor(area.height) : PREFERRED.height;
  return {
    width: Math.max(Math.min(PREFERRED.width, w), Math.min(MIN.width, w)),
    height: Math.max(Math.min(PREFERRED.height, h), Math.min(MIN.height, h)),
    minWidth: Math.min(MIN.width, w),
    minHeight: Math.min(MIN.height, h),
  };
}
