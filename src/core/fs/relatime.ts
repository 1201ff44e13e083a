/**
 * relatime, the rule every read applies (ops/read.ts touchAtime, the addon's touch_atime): a read
 * moves the access time when it is not after the last change (mtime or ctime), or is a day old.
 * Moving it on every read would turn reads into writes.
 */
export function relatimeDue(aSec: number, aNsec: number, mSec: number, mNsec: number, cSec: number, cNsec: number): boolean {
  const a = aSec * 1e9 + aNsec;
  return a <= mSec * 1e9 + mNsec || a <= cSec * 1e9 + cNsec || Date.now() / 1000 - aSec > 86400;
}
