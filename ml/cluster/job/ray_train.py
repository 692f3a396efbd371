"""The same training under Ray Train: one TorchTrainer worker per process, each running train.py's
main() (Ray sets the RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR environment that torchrun would,
and has made the process group, which train.py then uses).

  pip install "ray[train]"
  python ray_train.py --workers 8 --gpus            (add train.py's options after --, e.g. -- --epochs 5)

The job folder must be reachable at the same path on every node (a shared file system), or pass
--job to a path that is.
"""
import argparse
import os
import sys


def worker_loop(config):
    from ray import train as ray_train

    ctx = ray_train.get_context()
    os.environ.setdefault("RANK", str(ctx.get_world_rank()))
    os.environ.setdefault("WORLD_SIZE", str(ctx.get_world_size()))
    os.environ.setdefault("LOCAL_RANK", str(ctx.get_local_rank()))
    sys.path.insert(0, config["here"])
    import train

    train.main(config["argv"])


def main():
    p = argparse.ArgumentParser(description="Run train.py under Ray Train's TorchTrainer.")
    p.add_argument("--workers", type=int, default=2, help="training processes in all")
    p.add_argument("--gpus", action="store_true", help="one GPU per process")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="-- then train.py's options")
    a = p.parse_args()
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    here = os.path.dirname(os.path.abspath(__file__))
    argv = [x for x in a.rest if x != "--"]
    if "--job" not in argv:
        argv = ["--job", here] + argv
    trainer = TorchTrainer(
        worker_loop,
        train_loop_config={"here": here, "argv": argv},
        scaling_config=ScalingConfig(num_workers=a.workers, use_gpu=a.gpus),
    )
    trainer.fit()


if __name__ == "__main__":
    main()
