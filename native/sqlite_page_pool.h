// The page cache memory of this addon's SQLite: one pool, taken once and kept (see the .cc).
#pragma once

// Gives this copy of SQLite a fixed pool of page slots; before it initializes (sqlite_ofd_locks
// calls it first). False when SQLite was initialized already or refused: it then mallocs pages.
bool sqlite_page_pool();
