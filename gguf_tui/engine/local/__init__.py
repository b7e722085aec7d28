"""The local backend: llama.cpp in this process, owned by one engine thread. The only
package that imports llama_cpp."""
