"""What both runtimes share: the image build, the files a release uploads, the engines and their
providers, the app's environment and per-role facts, the public-init job, the chain builder."""
