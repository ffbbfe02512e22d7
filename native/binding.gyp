{
  "targets": [
    {
      "target_name": "prtip_native",
      "sources": [
        "src/addon.cc", "src/checksum.cc", "src/pcap-info.cc", "src/siphash.cc", "src/wire-ip.cc",
        "src/proto-tcp.cc", "src/proto-udp.cc", "src/proto-icmp.cc", "src/proto-sctp.cc", "src/proto-ipproto.cc", "src/send-thread.cc", "src/recv-thread.cc", "src/raw-engine.cc", "src/raw-exchange.cc", "src/raw-handles.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "libraries": ["-lpcap", "-lpthread"]
    }
  ]
}
