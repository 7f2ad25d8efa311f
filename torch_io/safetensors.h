// safetensors-cpp: the safetensors.torch API for C++ programs on LibTorch.
// One include gives every call, with the Python names so code ports line by
// line:
//
//   Python (safetensors.torch)             C++ (namespace safetensors)
//   load_file(path, device="cpu")          load_file(path, "cpu")
//   load(data)                             load(bytes)
//   save_file(tensors, path, metadata)     save_file(tensors, path, metadata)
//   save(tensors, metadata)                save(tensors, metadata)
//   save_model(model, path)                save_model(*model, path)
//   load_model(model, path, strict)        load_model(*model, path, strict)
//   safe_open(path, "pt", device)          safe_open(path, device)
//
// and checkpoints, sharded or not (checkpoint.h), with huggingface_hub's names:
//   save_torch_state_dict / save_torch_model / load_torch_model,
//   load_checkpoint and open_checkpoint.
//
// and torch.save checkpoints read as data, never run (pickle_load.h):
//   torch.load(f, weights_only=True)       load_pickle_file(path)
//   (a sharded pytorch_model.bin)          load_pickle_checkpoint(path)
// which load_model and load_torch_model accept too.
//
// Every fallible call returns absl::Status or absl::StatusOr; no exception
// leaves the library. GetErrorCode(status) gives the reason (parser/error.h).
#ifndef SAFETENSORS_TORCH_IO_SAFETENSORS_H_
#define SAFETENSORS_TORCH_IO_SAFETENSORS_H_

#include "parser/error.h"        // IWYU pragma: export
#include "parser/header.h"       // IWYU pragma: export
#include "torch_io/checkpoint.h"  // IWYU pragma: export
#include "torch_io/device.h"     // IWYU pragma: export
#include "torch_io/load.h"       // IWYU pragma: export
#include "torch_io/model.h"      // IWYU pragma: export
#include "torch_io/pickle_load.h"  // IWYU pragma: export
#include "torch_io/safe_open.h"  // IWYU pragma: export
#include "torch_io/save.h"       // IWYU pragma: export

#endif  // SAFETENSORS_TORCH_IO_SAFETENSORS_H_
