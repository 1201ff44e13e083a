{
  "targets": [
    {
      "target_name": "agentfs_native",
      "sources": ["fuse_session.cc", "reader.cc", "reply_buffers.cc", "host_files.cc", "host_stat.cc", "sqlite_ofd.cc", "sqlite_page_pool.cc", "sqlite_maps.cc", "checkpointer.cc", "request_bytes.cc", "reply_writer.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wno-missing-field-initializers", "<!@(pkg-config --cflags fuse3 sqlite3)"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": [
        "<!@(pkg-config --libs fuse3)",
        "-Wl,-Bstatic", "-lsqlite3", "-Wl,-Bdynamic", "-lm", "-ldl", "-lpthread",
        "-Wl,--exclude-libs,ALL"
      ],
      "defines": ["NAPI_VERSION=8", "FUSE_USE_VERSION=35"]
    }
  ]
}
