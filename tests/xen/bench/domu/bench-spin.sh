# In a Linux domU (bench, the "busy guest" load): keep its vCPU busy until it
# is destroyed. It shares the pCPU the audio guests run on (cpus=GUEST_CPUS).
echo "DOMU-SPIN started"
while :; do :; done
