% LOVE's videobench.m pooling, its indexing statements run as written, with
% stand-in scores s(i) = i + 0.5 for frames i = 1..8, for videos of N frames.
% Prints "N,pooled" rows; check_videobench_pooling.py compares them with
% videojury's love_matlab_pool. Run: octave-cli videobench_pooling.m
s = (1:8) + 0.5;
printf("N,pooled\n");
for frameNum = 8:400
  pano_NIQE = [];
  frameInterval = floor((frameNum-1) / 7);
  for iFrame = 1:8
    frame_idx = 1 + (iFrame-1) * frameInterval;
    cnt = frame_idx;
    pano_NIQE(cnt,:) = s(iFrame);  % the score of frame iFrame (read(disID, iFrame))
  end
  printf("%d,%.17g\n", frameNum, mean(pano_NIQE));
end
